"""The console's one way to the services: their HTTP APIs, with the signed-in person's own token."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from services.console.sessions import Session


class Unavailable(Exception):
    """A service did not answer: the page says so instead of failing."""


class Refused(Exception):
    """A service answered 4xx: its `detail` is shown (it never echoes what the person typed)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Backend:
    def __init__(
        self, urls: dict[str, str], timeout_s: float, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout_s, transport=transport)
            for name, url in urls.items()
        }

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        session: Session | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if session is not None and session.token:
            sent["Authorization"] = f"Bearer {session.token}"
        try:
            r = await self._clients[service].request(method, path, json=json, headers=sent)
        except httpx.HTTPError as exc:
            raise Unavailable(service) from exc
        if r.status_code >= 500:
            raise Unavailable(service)
        if r.status_code >= 400:
            raise Refused(r.status_code, _detail(r))
        return r.json() if r.content else None

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()


def _detail(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return r.reason_phrase
    if isinstance(detail, list):  # FastAPI validation: name the fields, never the values
        return "invalid: " + ", ".join(".".join(str(p) for p in d.get("loc", ())[1:]) for d in detail)
    return str(detail)


def backend(request: Request) -> Backend:
    """The app's one Backend (made by `create_app`)."""
    found: Backend = request.app.state.backend
    return found
