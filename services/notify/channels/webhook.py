"""Signed webhooks for agency paging and messaging systems.

Each message is a CloudEvent in the HTTP binding's binary mode (`ce-*` headers, JSON body) and is signed
the Standard Webhooks way: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
with `webhook-id` (the CloudEvent id) and `webhook-timestamp` (Unix seconds). A receiver checks the
signature with the secret it was registered with, rejects old timestamps, and drops repeated ids.
2xx is delivered; 410 means the hook is gone; anything else is retried by the dispatcher.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx

from services.notify.channels import SENT, Message, Result

EVENT_TYPE = "org.peerline.notification.v1"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def body_of(message: Message) -> bytes:
    return json.dumps(
        {"kind": message.kind, "agency": message.agency, "text": message.text, "link": message.link,
         "urgent": message.urgent},
        separators=(",", ":"),
    ).encode()  # fmt: skip


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, source: str = "peerline/notify") -> None:
        self.client, self.source = client, source

    async def send(self, address: dict[str, Any], message: Message) -> Result:
        body = body_of(message)
        timestamp = int(message.time.timestamp())
        headers = {
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": message.id,
            "ce-source": self.source,
            "ce-type": EVENT_TYPE,
            "ce-time": message.time.isoformat(),
            "ce-subject": message.kind,
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(str(address["secret"]), message.id, timestamp, body),
        }
        try:
            response = await self.client.post(str(address["url"]), content=body, headers=headers)
        except httpx.HTTPError:
            return Result(ok=False, reason="unreachable")
        if response.is_success:
            return SENT
        if response.status_code == 410:
            return Result(ok=False, reason="gone", retry=False)
        return Result(ok=False, reason="refused")
