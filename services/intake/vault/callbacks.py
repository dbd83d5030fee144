"""A member's callback channel for one case: sealed in the vault, opened for the peer who accepted the
case, shredded when the case closes, is cancelled or is reassigned.

Each callback has its own data key, wrapped by the KEK, in `callback_keys`; the sealed value sits in
`callbacks`. Shredding deletes the key row (SQLite `secure_delete`, WAL truncated): the ciphertext that
remains can never be opened again, by anyone holding anything. Neither the value nor the key is ever in
the log (`callback_left` / `callback_released` record only that it happened).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from services.intake.vault.heldkeys import HeldKeys, shred_on_disk
from services.intake.vault.keys import Keyring, KeyUnavailable, open_sealed, seal
from shared.contracts.intake import SealedField

metadata = MetaData()
callback_keys = Table(
    "callback_keys",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
)
callbacks = Table(
    "callbacks",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("nonce", String(32), nullable=False),
    Column("ciphertext", String(512), nullable=False),
    Column("shredded_at", DateTime(timezone=True)),
)


class Callbacks:
    def __init__(self, engine: Engine, keyring: Keyring) -> None:
        self.engine = engine
        self.keys = HeldKeys(callback_keys, callback_keys.c.case_id, keyring)
        metadata.create_all(engine)

    def leave(self, case_id: str, agency: str, channel: str, number: str) -> None:
        """Seal the number under a new key for this case (replacing one left before)."""
        with self.engine.begin() as conn:
            self.keys.destroy(conn, case_id)
            conn.execute(delete(callbacks).where(callbacks.c.case_id == case_id))
            sealed = seal(self.keys.make(conn, case_id), case_id, channel, number)
            conn.execute(
                insert(callbacks).values(
                    case_id=case_id,
                    agency=agency,
                    channel=channel,
                    nonce=sealed.nonce,
                    ciphertext=sealed.ciphertext,
                )
            )

    def open(self, case_id: str) -> tuple[str, str]:
        """(channel, number). Raises KeyUnavailable when none was left or it was shredded."""
        with self.engine.connect() as conn:
            row = conn.execute(select(callbacks).where(callbacks.c.case_id == case_id)).first()
            key = self.keys.get(conn, case_id)
        if row is None or key is None:
            raise KeyUnavailable("no callback for this case (none left, or shredded)")
        return row.channel, open_sealed(
            key, case_id, row.channel, SealedField(nonce=row.nonce, ciphertext=row.ciphertext)
        )

    def sealed(self, case_id: str) -> SealedField | None:
        """The ciphertext as stored (what is left after shredding)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(callbacks).where(callbacks.c.case_id == case_id)).first()
        return SealedField(nonce=row.nonce, ciphertext=row.ciphertext) if row else None

    def shred(self, case_id: str, at: datetime) -> None:
        """Destroy the case's callback key; idempotent."""
        with self.engine.begin() as conn:
            gone = self.keys.destroy(conn, case_id)
            if gone:
                conn.execute(update(callbacks).where(callbacks.c.case_id == case_id).values(shredded_at=at))
        if gone:
            shred_on_disk(self.engine, (callback_keys,))
