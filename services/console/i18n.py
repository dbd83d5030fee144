"""English and French from Babel message catalogues (locale/<lang>/LC_MESSAGES/messages.po), compiled in
memory at start-up so no binary catalogue is kept in the repository."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "fr")
LOCALE_DIR = Path(__file__).parent / "locale"


def load() -> dict[str, NullTranslations]:
    out: dict[str, NullTranslations] = {"en": NullTranslations()}
    for lang in LANGUAGES[1:]:
        with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[lang] = Translations(buf)
    return out


def choose(chosen: str | None, accept_language: str) -> str:
    """The person's own choice, else the first supported language their browser asks for."""
    if chosen in LANGUAGES:
        return chosen
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"
