"""Matching's reaction (thin): each fetched batch of `support_requested` events → the assigner.

A batch reaction (shared.batches) on the shared durable `matching-assigner`: the assigner decides a
whole batch on one directory snapshot and appends it in one write, which is what lets matching keep up
with the log. Decoding, acks, retries with backoff and dead letters are the reactor's.
"""

from __future__ import annotations

import logging

from faststream.nats import NatsRouter
from nats.aio.client import Client

from services.matching.commands.assigner import Assigner, Delivered, Prepared
from shared.batches import BatchReaction, Results, documented
from shared.reactor import Delivered as Event
from shared.settlement import Policy, Settlement
from shared.topology import consumer

log = logging.getLogger("peerline.matching")


class Assignments:
    """The batch handler: decide on one snapshot (`prepare`), append in one write (`complete`)."""

    def __init__(self, assigner: Assigner) -> None:
        self.assigner = assigner

    async def prepare(self, batch: list[Event]) -> tuple[Prepared | None, Results]:
        requests = [Delivered(d.env, d.seq, d.headers) for d in batch]
        try:
            return await self.assigner.prepare(requests), [None] * len(batch)
        except Exception:
            log.exception("matching: deciding a batch failed; deciding its requests one by one")
        return await self._one_by_one(requests)

    async def _one_by_one(self, requests: list[Delivered]) -> tuple[Prepared | None, Results]:
        """The request that fails is retried with backoff (then dead-lettered); the others go on."""
        failures: Results = []
        batch: list[Delivered] = []
        decided = []
        now = None
        for request in requests:
            try:
                one = await self.assigner.prepare([request])
            except Exception as exc:
                failures.append(exc)
                continue
            failures.append(None)
            batch.extend(one.batch)
            decided.extend(one.decided)
            now = one.now
        return (None if now is None else Prepared(batch, decided, now)), failures

    async def complete(self, prepared: Prepared) -> Results:
        return await self.assigner.complete(prepared)


ASSIGNER = consumer("matching-assigner")


def assignments(
    nc: Client, assigner: Assigner, max_deliveries: int, batch: int, in_flight: int
) -> BatchReaction:
    settlement = Settlement(Policy(max_deliveries))
    return BatchReaction(nc, ASSIGNER, Assignments(assigner), settlement, batch=batch, in_flight=in_flight)


def routes() -> NatsRouter:
    """The reaction as the AsyncAPI document shows it (shared.batches.documented)."""
    return documented(ASSIGNER, "fetched in batches, each decided on one directory snapshot, written at once")
