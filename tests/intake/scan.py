"""Where plaintext identity must never be: every stream, every database file, logs, exported spans."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from nats.js import JetStreamContext
from opentelemetry.sdk.trace import ReadableSpan

from .conftest import stored


def files_under(
    root: Path, patterns: Iterable[str] = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal")
) -> bytes:
    return b"".join(p.read_bytes() for pattern in patterns for p in root.rglob(pattern))


async def stream_bytes(js: JetStreamContext, stream: str, bodies: bool = True) -> bytes:
    out = []
    for data, headers in await stored(js, stream):
        out.append(data if bodies else b"")
        out.append(repr(headers).encode())
    return b"".join(out)


def span_text(spans: Iterable[ReadableSpan]) -> str:
    return "\n".join(
        f"{s.name} {dict(s.attributes or {})} {[(e.name, dict(e.attributes or {})) for e in s.events]}"
        for s in spans
    )


def found(canaries: Iterable[str], haystack: bytes | str) -> list[str]:
    text = haystack if isinstance(haystack, bytes) else haystack.encode()
    lowered = text.lower()
    return [c for c in canaries if c.encode().lower() in lowered]
