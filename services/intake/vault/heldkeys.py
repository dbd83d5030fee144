"""Data keys held in one of the vault's tables, wrapped by the KEK: the one way the vault makes, opens,
destroys and rewraps a key, whether a member's identity key, a vault secret or a case's callback key.

A table of held keys has a name column (its primary key, bound into the wrap as associated data), a
`wrapped` column and a `kek_id` column naming the KEK that wrapped it. Destroying a key deletes its row;
`shred_on_disk` then makes the deleted bytes go away (see `Vault` for why that is the whole erasure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, delete, insert, select, text, update

from services.intake.vault.keys import Keyring, new_data_key


@dataclass(frozen=True)
class HeldKeys:
    table: Table
    name: Column[Any]
    keyring: Keyring

    def make(self, conn: Connection, name: str, **row: Any) -> bytes:
        """A new data key, kept here wrapped under the current KEK (with the row's other columns)."""
        key = new_data_key()
        wrapped = self.keyring.wrap(key, name)
        conn.execute(
            insert(self.table).values(
                {self.name.key: name, "wrapped": wrapped, "kek_id": self.keyring.current_id, **row}
            )
        )
        return key

    def get(self, conn: Connection, name: str) -> bytes | None:
        """The key, unwrapped; None when there is none (never made, or destroyed)."""
        row = conn.execute(select(self.table.c.wrapped, self.table.c.kek_id).where(self.name == name)).first()
        return None if row is None else self.keyring.unwrap(row.wrapped, name, row.kek_id)

    def destroy(self, conn: Connection, name: str) -> bool:
        """Delete the key's row; whether there was one."""
        return bool(conn.execute(delete(self.table).where(self.name == name)).rowcount)

    def rewrap(self, conn: Connection) -> int:
        """Rewrap every key held under an older KEK with the current one. Returns how many."""
        current, count = self.keyring.current_id, 0
        rows = conn.execute(select(self.name, self.table.c.wrapped, self.table.c.kek_id)).all()
        for name, wrapped, under in rows:
            if under == current:
                continue
            plain = self.keyring.unwrap(wrapped, name, under)
            again = self.keyring.wrap(plain, name)
            conn.execute(update(self.table).where(self.name == name).values(wrapped=again, kek_id=current))
            count += 1
        return count


def shred_on_disk(engine: Engine, tables: Iterable[Table]) -> None:
    """Make deleted key bytes go away on disk: SQLite (secure_delete) checkpoints and truncates its
    WAL; PostgreSQL vacuums the tables so dead rows are removed (its WAL archives and base backups
    still hold them until they expire — keep that retention short)."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    elif dialect == "postgresql":
        names = ", ".join(t.name for t in tables)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM {names}"))
