"""One way for tests to open a NATS connection to a test server (the credentials live here)."""

from __future__ import annotations

from typing import Any

import nats
from nats.aio.client import Client


async def connect(url: str, user: str = "harness", **options: Any) -> Client:
    """A client on `url` as `user` (a service name, or "harness" for a test's own set-up and checks)."""
    return await nats.connect(url, **options)
