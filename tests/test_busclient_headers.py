"""Peerline's clients parse message headers with `shared.busclient.parse_header_lines`: the same dict as
nats-py's own parser for any header block, checked against it here, and in use on every connection the
services make (their own, and their faststream broker's)."""

from __future__ import annotations

import asyncio
import random

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared.busclient import parse_header_lines
from tests.support.bus import connect

STOCK = Client._parse_header_lines  # nats-py's own, as shipped

EVENT = (
    b"Nats-Msg-Id: 7c6deda5-9163-411f-9ad7-4c894d11b95a\r\nCe-Type: peerline.peer_enrolled.v1\r\n"
    b"Nats-Expected-Stream: PEERLINE_EVENTS\r\nNats-Expected-Last-Subject-Sequence: 0\r\n"
    b"Nats-Expected-Last-Subject-Sequence-Subject: ev.a.peer.p-1.>\r\n"
    b"Nats-Batch-Id: 300155cd85144eedac65674d1336db6c\r\nNats-Batch-Sequence: 19\r\n\r\n"
)
ODD = [
    b"",
    b"\r\n",
    b"Name:Value\r\n",  # no space after the colon
    b"Name:\tValue \r\n",
    b"  Padded  :  both sides  \r\n",
    b"Two Words: skipped\r\n",  # whitespace inside a name
    b"Tab\tName: skipped\r\n",
    b"Sep\x1cName: skipped\r\n",  # str.isspace() holds for \x1c..\x1f
    b"\x1fLead: skipped\r\n",
    b"Caf\xc3\xa9: a non-ASCII name is skipped\r\n",
    b"Value: caf\xc3\xa9 and \xff bad UTF-8\r\n",
    b"no colon at all\r\n",
    b": an empty name\r\n",
    b"Repeated: first\r\nRepeated: second\r\n",
    b"Colons: a: b: c\r\n",
    b"Bare\rCR: x\nLF: y\r\n",
]


@pytest.mark.unit
@pytest.mark.parametrize("raw", [EVENT, *ODD])
def test_headers_are_read_as_nats_py_reads_them(raw: bytes) -> None:
    assert parse_header_lines(raw) == STOCK(raw)


@pytest.mark.unit
def test_random_header_blocks_are_read_as_nats_py_reads_them() -> None:
    pieces = [b"A", b"b-C", b" ", b"\t", b":", b"\r\n", b"\r", b"\n", b"\x1c", b"\x0b", b"\xc3\xa9", b"\xff"]
    rng = random.Random(20)
    for _ in range(5000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 24)))
        assert parse_header_lines(raw) == STOCK(raw), raw


async def test_a_peerline_client_reads_a_delivered_events_headers_with_its_own_parser(nats_url: str) -> None:
    ours = await connect(nats_url)
    stock = await connect(nats_url, stock=True)
    try:
        assert ours._parse_header_lines is parse_header_lines  # type: ignore[comparison-overlap]
        assert stock._parse_header_lines is not parse_header_lines  # type: ignore[comparison-overlap]
        headers = {"Nats-Msg-Id": "h-1", "Ce-Type": "peerline.support_requested.v1", "Spaced": " a b "}
        got: dict[str, asyncio.Future[dict[str, str] | None]] = {}
        for name, nc in (("ours", ours), ("stock", stock)):
            got[name] = asyncio.get_running_loop().create_future()

            async def keep(msg: Msg, name: str = name) -> None:
                got[name].set_result(msg.headers)

            await nc.subscribe("bench.headers", cb=keep)
        await ours.flush()
        await stock.flush()
        await ours.publish("bench.headers", b"{}", headers=headers)
        mine, theirs = await asyncio.wait_for(asyncio.gather(got["ours"], got["stock"]), 5)
        assert mine == theirs and mine is not None and mine["Nats-Msg-Id"] == "h-1"
    finally:
        await ours.close()
        await stock.close()
