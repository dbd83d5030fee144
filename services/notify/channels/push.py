"""Web Push to the console's installed app: the payload encrypted for the subscription (RFC 8291,
aes128gcm, through pywebpush/http_ece) and signed with the service's VAPID key (RFC 8292, py_vapid).

The payload is the same generic text and deep link as every channel. A push service answering 404 or 410
has dropped the subscription: it is gone, and no longer a working channel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from py_vapid.utils import b64urlencode
from pywebpush import WebPusher

from services.notify.channels import SENT, Message, Result


def load_vapid(path: Path) -> Vapid02:
    """The VAPID key from a PEM file, made once if absent (development; production mounts its own)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Vapid02()
        key.generate_keys()
        key.save_key(str(path))
        path.chmod(0o600)
    return Vapid02.from_file(str(path))


def application_server_key(vapid: Vapid02) -> str:
    """The public key a browser subscribes with (`applicationServerKey`), base64url."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return str(b64urlencode(raw))


class PushSender:
    def __init__(self, client: httpx.AsyncClient, vapid: Vapid02, subject: str, ttl_s: int = 3600) -> None:
        self.client, self.vapid, self.subject, self.ttl_s = client, vapid, subject, ttl_s

    async def send(self, address: dict[str, Any], message: Message) -> Result:
        subscription = address["subscription"]
        payload = json.dumps({"title": message.title, "body": message.text, "url": message.link})
        body = WebPusher(subscription).encode(payload.encode(), "aes128gcm")["body"]
        parts = urlsplit(subscription["endpoint"])
        headers = {
            **self.vapid.sign({"sub": self.subject, "aud": f"{parts.scheme}://{parts.netloc}"}),
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
            "ttl": str(self.ttl_s),
            "urgency": "high" if message.urgent else "normal",
            "topic": message.id[-32:],  # a repeat replaces the undelivered original
        }
        try:
            response = await self.client.post(subscription["endpoint"], content=body, headers=headers)
        except httpx.HTTPError:
            return Result(ok=False, reason="unreachable")
        if response.is_success:
            return SENT
        if response.status_code in (404, 410):
            return Result(ok=False, reason="gone", retry=False)
        return Result(ok=False, reason="refused")
