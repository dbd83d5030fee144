"""Pages: Jinja2 templates named `.html` (so autoescape is on), with the nonce, the CSRF token, the
person's language and who is signed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.console import i18n
from services.console.security import session_of

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    lang = i18n.choose(session.lang, request.headers.get("accept-language", ""))
    tr = request.app.state.translations[lang]
    return templates.TemplateResponse(
        request,
        name,
        {
            "_": tr.gettext,
            "lang": lang,
            "nonce": request.state.nonce,
            "csrf": session.csrf,
            "me": session,
            "settings": request.app.state.settings,
            **context,
        },
        status_code=status_code,
    )
