"""Dead letters: an event a consumer cannot take goes to PEERLINE_DLQ with the reason, never nowhere."""

from __future__ import annotations

from nats.js import JetStreamContext

from shared.topology import DLQ_STREAM


async def dead_letter(
    js: JetStreamContext,
    consumer: str,
    *,
    subject: str,
    seq: int | None,
    data: bytes,
    headers: dict[str, str] | None,
    reason: str,
    ttl_s: int | None = None,
) -> None:
    """Publish the original bytes with the reason. Idempotent per (consumer, seq). With `ttl_s` the
    dead letter expires (for raw outside data, e.g. CAD documents naming members of the public)."""
    out = {f"Original-{k}": v for k, v in (headers or {}).items()}
    out.update(
        {
            "Peerline-Reason": header_text(reason[:1000]),
            "Peerline-Consumer": consumer,
            "Peerline-Original-Subject": subject,
        }
    )
    if seq is not None:
        out["Peerline-Original-Seq"] = str(seq)
        out["Nats-Msg-Id"] = f"{consumer}:{seq}"
    if ttl_s is not None:
        out["Nats-TTL"] = f"{ttl_s}s"
    await js.publish(f"dlq.{consumer}", data, stream=DLQ_STREAM, headers=out)


def header_text(text: str) -> str:
    """One header line of printable ASCII: a reason can name fields of the input it refuses, whatever their
    characters (line breaks, non-ASCII), and some NATS clients parse a non-ASCII value as something else."""
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode() for c in text)
