"""One active writer per projection, even with several replicas of a service.

Events must be applied in stream order, so a projection has one active consumer. With PostgreSQL, the
replica holding a session advisory lock keyed by the projection's name runs it; the others wait and take
over if that session ends. With SQLite (one machine, one process per service) there is nothing to elect.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("peerline.leader")


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name, self.key = engine, name, lock_key(name)
        self._conn: Connection | None = None
        self._held = False

    @property
    def needed(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def hold(self) -> bool:
        """True while this process may run the projection (takes the lock when it is free)."""
        if not self.needed:
            return True
        try:
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self._held:
                alive = self._conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    )
                ).scalar_one()
                self._held = bool(alive)
            if not self._held:
                self._held = bool(
                    self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar_one()
                )
                if self._held:
                    log.info("now the active writer of projection %s", self.name)
        except Exception:
            log.warning("lost the lock session of projection %s; standing by", self.name)
            self.release()
        return self._held

    def release(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.invalidate()  # end the session itself: a pooled one would keep the lock
                self._conn.close()
            except Exception:
                log.debug("closing the lock session failed", exc_info=True)
            self._conn = None
