"""Reading a stream's messages under one subject filter with batched direct gets (NATS 2.11+, ADR-31).

One request to `$JS.API.DIRECT.GET.<stream>` with `{"seq", "next_by_subj", "batch"}` is answered with
up to `batch` messages and then an end-of-batch status (204 "EOB", with `Nats-Num-Pending`: how many
more match), or 404 when nothing matches. nats-py does not wrap it, so the request is sent here and the
answers are read on a fresh inbox under the client's own prefix (`_INBOX.<identity>.`), the only
subjects a service may subscribe to.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout


@dataclass(frozen=True)
class Raw:
    """A message as the log holds it: its stream sequence, subject and bytes."""

    seq: int
    subject: str
    data: bytes


async def direct_batches(nc: Client, stream: str, filt: str, start: int, batch: int) -> list[Raw]:
    """Every message under `filt` from sequence `start` on, in order: one round trip per `batch`."""
    out: list[Raw] = []
    while True:
        got, pending = await direct_batch(nc, stream, filt, start, batch)
        out.extend(got)
        if not got or not pending:
            return out
        start = got[-1].seq + 1


async def direct_batch(
    nc: Client, stream: str, filt: str, start: int, batch: int, timeout: float = 5.0
) -> tuple[list[Raw], int]:
    """One batched direct get: the messages, and how many more match. Raises nats' TimeoutError when the
    server falls silent for `timeout` seconds (a long batch may take longer as a whole)."""
    got: list[Raw] = []
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_msg(msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            got.append(Raw(int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data))
        elif not done.done():
            if status in ("204", "404"):
                done.set_result(int(headers.get("Nats-Num-Pending", "0")))
            elif status == "503":
                done.set_exception(NoRespondersError())
            else:
                done.set_exception(RuntimeError(f"direct get of {filt} answered {status}"))

    inbox = nc.new_inbox()
    request = json.dumps({"seq": start, "next_by_subj": filt, "batch": batch}).encode()
    sub = await nc.subscribe(inbox, cb=on_msg)
    try:
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", request, reply=inbox)
        while True:
            seen = len(got)
            try:
                return got, await asyncio.wait_for(asyncio.shield(done), timeout)
            except TimeoutError:
                if len(got) == seen:
                    raise NatsTimeout from None
    finally:
        await sub.unsubscribe()
