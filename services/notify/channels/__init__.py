"""How a message leaves: one small sender per channel, each answering with a `Result`.

A sender never raises for a failed delivery and never logs an address: it says whether the receiver
took the message, and if not, whether trying again could help.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

Reason = Literal["refused", "unreachable", "gone"]


@dataclass(frozen=True)
class Message:
    """What is sent: generic text and a deep link. `id` is the delivery id, the same on every retry, so a
    receiver can drop a repeat (e-mail Message-ID, CloudEvents id, Web Push topic)."""

    id: str
    kind: str
    agency: str
    title: str
    text: str
    link: str
    urgent: bool
    time: datetime


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: Reason | None = None
    retry: bool = True  # worth trying again (False: the address or subscription is gone for good)


SENT = Result(ok=True)


class Sender(Protocol):
    async def send(self, address: dict[str, Any], message: Message) -> Result: ...
