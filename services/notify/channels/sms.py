"""Text messages behind one small interface: a provider adapter implements `SmsAdapter`.

The only implementation here is `LoggingSmsAdapter`, for development and tests: it sends nothing, logs
that a message would have gone out (the delivery id, never the number or the text) and keeps what it
was given in memory. With no adapter configured (`sms_adapter = "none"`) phone numbers are kept but are
not a working channel: a page never counts as delivered by a text nobody sent.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from services.notify.channels import SENT, Message, Result

log = logging.getLogger("peerline.notify.sms")


class SmsAdapter(Protocol):
    async def send_text(self, phone: str, text: str, message_id: str) -> Result: ...


class LoggingSmsAdapter:
    """Development and test adapter: records the texts, sends none."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send_text(self, phone: str, text: str, message_id: str) -> Result:
        self.sent.append((phone, text, message_id))
        log.info("sms %s: logged, not sent (development adapter)", message_id)
        return SENT


class SmsSender:
    def __init__(self, adapter: SmsAdapter) -> None:
        self.adapter = adapter

    async def send(self, address: dict[str, Any], message: Message) -> Result:
        return await self.adapter.send_text(
            str(address["phone"]), f"{message.text} {message.link}", message.id
        )
