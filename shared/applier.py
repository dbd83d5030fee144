"""Where a replay applies its batches: in a thread of the replaying process, or in a child process forked
for the purpose, so that a long replay uses two cores — the parent reads the log from NATS while the child
decodes and applies what came before.

One Python process is bound to one core by the interpreter lock, and a replay's time splits between
reading messages from NATS (about a third) and decoding and applying them (the rest). Forked, the two
halves overlap. The child gets raw messages (stream sequence, subject, data) over a pipe, a batch at a time,
applies each in one transaction as the thread would, and answers; the parent keeps one batch queued
ahead, so the child never waits, and waits for the child before it reads further, so its buffer stays
bounded. A failed batch is reported back with its reason (never its content) and ends the replay.
"""

from __future__ import annotations

import asyncio
import os
import pickle
from collections.abc import Callable
from multiprocessing import Pipe
from multiprocessing.connection import Connection as PipeEnd
from typing import cast

from sqlalchemy import Engine

from shared.items import describe

Raw = tuple[int, str, bytes]  # a delivered message as a replay keeps it: stream sequence, subject, data
Apply = Callable[[list[Raw]], None]
FORK_FROM = 10_000  # events: below this a replay is over before a second process pays off


class ApplyFailed(RuntimeError):
    """The child could not apply a batch; the message is the reason, without the events' content."""


def forkable(engine: Engine) -> bool:
    """Whether a child process can write the engine's database (an in-memory SQLite lives in one process)."""
    return os.name == "posix" and engine.url.database not in (None, "", ":memory:")


class InThread:
    """Apply each batch in a worker thread of this process."""

    def __init__(self, apply: Apply) -> None:
        self.apply = apply

    async def put(self, msgs: list[Raw]) -> int:
        """Apply `msgs`; returns how many messages are now applied in all."""
        await asyncio.to_thread(self.apply, msgs)
        return len(msgs)

    async def finish(self) -> int:
        return 0

    def close(self) -> None:
        pass


class Forked:
    """Apply each batch in a forked child; `put` returns once the batch before it is applied."""

    def __init__(self, engine: Engine, apply: Apply) -> None:
        ours, theirs = Pipe()
        pid = os.fork()
        if pid == 0:  # the child: applies until told to stop, then leaves without the parent's clean-up
            code = 1
            try:
                ours.close()
                code = _serve(theirs, engine, apply)
            finally:
                os._exit(code)  # whatever happened, never back into the parent's code
        theirs.close()
        self.pid, self.pipe = pid, ours
        self.sent: list[int] = []  # sizes of the batches the child has not yet answered for

    async def put(self, msgs: list[Raw]) -> int:
        return await asyncio.to_thread(self._put, msgs)

    def _put(self, rows: list[Raw]) -> int:
        try:
            self.pipe.send_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # the child stopped while this batch was on its way: its answer says why
            self._drain()
            raise ApplyFailed("the applying process stopped") from exc
        self.sent.append(len(rows))
        return self._answered() if len(self.sent) > 1 else 0

    async def finish(self) -> int:
        """Wait for every batch sent; returns how many messages those were."""
        return await asyncio.to_thread(self._drain)

    def _drain(self) -> int:
        done = 0
        while self.sent:
            done += self._answered()
        return done

    def _answered(self) -> int:
        try:
            answer = self.pipe.recv_bytes()
        except EOFError as exc:
            raise ApplyFailed("the applying process ended without answering") from exc
        if answer:
            raise ApplyFailed(answer.decode())
        return self.sent.pop(0)

    def close(self) -> None:
        """Tell the child to stop (an empty message) and reap it."""
        try:
            self.pipe.send_bytes(b"")
        except OSError:
            pass  # it has gone already
        self.pipe.close()
        os.waitpid(self.pid, 0)


def _serve(pipe: PipeEnd, engine: Engine, apply: Apply) -> int:
    """The child's loop: each batch applied and answered (empty: done; else the reason it failed)."""
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    while True:
        try:
            data = pipe.recv_bytes()
        except EOFError:
            return 1
        if not data:
            return 0
        rows = cast(list[Raw], pickle.loads(data))  # noqa: S301  # pickled by the parent, on its own pipe
        try:
            apply(rows)
        except Exception as exc:
            pipe.send_bytes(describe(exc).encode() or b"failed")
            return 1
        pipe.send_bytes(b"")
