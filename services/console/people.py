"""Who is signed in, and the dev sign-in's demo people (the demo region `peerline up` seeds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from services.console.security import session_of
from services.console.sessions import Session
from shared.seed import AGENCIES, demo_peers

REGION = "region"  # a regional admin's token names no one agency of the region


@dataclass(frozen=True)
class DemoPerson:
    role: str
    agency: str
    sub: str
    label: str


def demo_people() -> list[DemoPerson]:
    """One member per agency (also the responder who gets debrief offers), every seeded peer, one
    coordinator and one clinician per agency, a leader per agency and two regional admins (a policy
    change needs a second one to approve it)."""
    people = [DemoPerson("member", agency, f"m-demo-{agency}", f"member · {agency}") for agency in AGENCIES]
    people += [
        DemoPerson("peer", agency, ref, f"peer {ref[-2:]} · {agency}") for agency, ref, _ in demo_peers()
    ]
    people += [DemoPerson("coordinator", a, f"u-coord-{a}", f"coordinator · {a}") for a in AGENCIES]
    people += [DemoPerson("clinician", a, f"u-clin-{a}", f"clinician · {a}") for a in AGENCIES]
    people += [DemoPerson("leader", agency, f"l-demo-{agency}", f"leader · {agency}") for agency in AGENCIES]
    people += [DemoPerson("regional_admin", REGION, f"ra-demo-{n}", f"regional admin {n}") for n in (1, 2)]
    return people


class SignInFirst(Exception):
    """Raised by a page for signed-in people only: the visitor is sent to the sign-in page."""


def signed_in(*roles: str) -> Callable[[Request], Session]:
    def dependency(request: Request) -> Session:
        session = session_of(request)
        if not session.signed_in:
            raise SignInFirst()
        if session.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this page is not for your role")
        return session

    return dependency
