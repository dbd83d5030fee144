"""Connecting to the bus as one identity: its NKey seed, its private inbox prefix, TLS when configured."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from shared.buspolicy import inbox_prefix


def servers(url: str) -> list[str]:
    """`PEERLINE_NATS_URL` may name several servers of one cluster, comma-separated: the client picks
    one and moves to another when it goes away."""
    return [u.strip() for u in url.split(",") if u.strip()]


def options(identity: str, seed_file: Path | None, ca_file: Path | None = None) -> dict[str, Any]:
    """nats-py (and faststream) connection options for `identity`."""
    out: dict[str, Any] = {"name": f"peerline-{identity}", "inbox_prefix": inbox_prefix(identity)}
    if seed_file is not None:
        out["nkeys_seed"] = str(seed_file)
    if ca_file is not None:
        out["tls"] = ssl.create_default_context(cafile=str(ca_file))
    return out


async def connect(
    url: str, identity: str, seed_file: Path | None, ca_file: Path | None = None, **extra: Any
) -> Client:
    return await nats.connect(servers(url), **{**options(identity, seed_file, ca_file), **extra})
