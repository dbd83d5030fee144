"""Server-side sessions: the browser holds only a random id in a `__Host-` cookie; the bearer token, the
CSRF token and the case tokens of a member's own requests stay here, in memory, until sign-out, quick
exit or expiry. A restart signs everyone out, which is the safe direction."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

COOKIE = "__Host-peerline"


@dataclass
class Session:
    sid: str
    csrf: str
    expires: float
    token: str | None = None
    role: str | None = None
    agency: str | None = None
    sub: str | None = None
    label: str | None = None
    lang: str | None = None
    cases: dict[str, str] = field(default_factory=dict)  # case_id → case token (a member's own requests)
    oidc: dict[str, str] = field(default_factory=dict)  # state, nonce and PKCE verifier during sign-in

    @property
    def signed_in(self) -> bool:
        return self.token is not None


class Sessions:
    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._by_id: dict[str, Session] = {}

    def new(self, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        self._expire(now)
        s = Session(sid=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), expires=now + self.ttl_s)
        self._by_id[s.sid] = s
        return s

    def get(self, sid: str | None, now: float | None = None) -> Session | None:
        if not sid:
            return None
        s = self._by_id.get(sid)
        if s is None or s.expires < (time.time() if now is None else now):
            self._by_id.pop(sid, None)
            return None
        return s

    def rotate(self, old: Session) -> Session:
        """A new id and CSRF token at sign-in (no session fixation); the language choice carries over."""
        self.end(old)
        fresh = self.new()
        fresh.lang = old.lang
        return fresh

    def end(self, s: Session) -> None:
        self._by_id.pop(s.sid, None)

    def _expire(self, now: float) -> None:
        for sid in [k for k, v in self._by_id.items() if v.expires < now]:
            del self._by_id[sid]
