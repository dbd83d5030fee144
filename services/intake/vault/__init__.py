"""The identity vault's own storage: members' data keys, the CAD roster, and who referred whom.

Why the data key is NOT in the log: `member_registered` lives forever in an append-only, replicated,
backed-up stream, and the KEK lives as long as the deployment. If the event carried the wrapped data
key, anyone holding the KEK and any old copy of the log could open an "erased" identity. So the event
carries only ciphertext (and the member_ref naming the key); the data key exists in exactly one place,
the `data_keys` table of this database, wrapped by the KEK. Erasure deletes that row (SQLite runs with
`secure_delete` and the WAL is truncated, so the bytes are overwritten, not just unlinked; PostgreSQL
vacuums); afterwards no KEK, log copy or replay can open the ciphertext. The price: these tables are
not a projection and cannot be rebuilt from the log — back them up, and bound how long backups are
kept (an erasure is final once the backups holding the key have expired). KEK rotation rewraps rows
here; the log is never rewritten.

CAD ids (which may be employee or radio ids) are kept only as HMACs under a vault secret, and a
referral's referrer only here — never in the log.

A signed-in member is the same person across requests: the verified token subject, keyed with a vault
secret (HMAC), finds their member_ref here (`member_of`); the log holds only the member_ref, random,
so nobody without this table and the key can link it to a subject. A coordinator can tie a registered
member to their sign-in (`link`), so a peer's or a supervisor's own request carries the member_ref the
directory knows them by. Erasure deletes the link with the data key: the next request is a stranger's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError

from services.intake.vault.callbacks import Callbacks, callback_keys
from services.intake.vault.heldkeys import HeldKeys, shred_on_disk
from services.intake.vault.keys import Keyring, KeyUnavailable, open_sealed, seal
from shared.contracts.intake import MemberRegistered
from shared.db import make_engine

IDENTITY_FIELDS = ("name", "phone", "email", "employee_id")
ROSTER_SECRET = "roster-hmac"  # noqa: S105 - the name of a vault row, not a secret
PSEUDONYM_SECRET = "member-pseudonym"  # noqa: S105 - the name of a vault row, not a secret
HELD_BY_VAULT = "vault-held"  # `kek_id` of events whose data key never leaves the vault

metadata = MetaData()
data_keys = Table(
    "data_keys",
    metadata,
    Column("member_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
)
erased = Table(
    "erased_members",
    metadata,
    Column("member_ref", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)
secrets_table = Table(
    "vault_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
)
roster = Table(
    "roster",
    metadata,
    Column("agency", String(64), primary_key=True),
    Column("cad_hash", String(64), primary_key=True),
    Column("member_ref", String(64), nullable=False, index=True),
)
pseudonyms = Table(
    "pseudonyms",
    metadata,
    Column("subject_hash", String(64), primary_key=True),  # HMAC(vault secret, agency/subject)
    Column("agency", String(64), nullable=False),
    Column("member_ref", String(64), nullable=False, index=True),
)
referrals = Table(
    "referrals",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("referred_by", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
# Built once: each member request runs them (a statement built per call costs more than the query).
_KNOWN = (  # (agency, erased) of a member_ref: a live key first, then a sign-in link, then an erasure
    union_all(
        *(
            select(t.c.agency, literal(rank).label("rank")).where(t.c.member_ref == bindparam("ref"))
            for rank, t in enumerate((data_keys, pseudonyms, erased))
        )
    )
    .order_by("rank")
    .limit(1)
)
_PSEUDONYM = select(pseudonyms.c.member_ref).where(pseudonyms.c.subject_hash == bindparam("h"))


def vault_engine(url: str) -> Engine:
    engine = make_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _secure(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    metadata.create_all(engine)
    return engine


class RosterConflict(Exception):
    """CAD ids already mapped to another member (positions in the batch); nothing was mapped."""

    def __init__(self, positions: list[int]) -> None:
        super().__init__(positions)
        self.positions = positions


class Vault:
    def __init__(self, engine: Engine, keyring: Keyring) -> None:
        self.engine, self.keyring = engine, keyring
        self.member_keys = HeldKeys(data_keys, data_keys.c.member_ref, keyring)
        self.secret_keys = HeldKeys(secrets_table, secrets_table.c.name, keyring)
        self.callbacks = Callbacks(engine, keyring)  # members' callback channels, one key per case
        self._secrets: dict[str, bytes] = {}  # vault secrets as read or made (see `_secret`)

    # --- identities ---------------------------------------------------------------------------------

    def register(
        self, agency: str, member_ref: str, identity: dict[str, str], discipline: str | None
    ) -> MemberRegistered:
        """Make the member's data key, keep it here (wrapped), and seal their identity with it."""
        with self.engine.begin() as conn:
            key = self.member_keys.make(conn, member_ref, agency=agency)
        sealed = {f: seal(key, member_ref, f, v) for f, v in identity.items() if v}
        return MemberRegistered(
            wrapped_key="", kek_id=HELD_BY_VAULT, key_id=member_ref, sealed=sealed, discipline=discipline
        )

    def open(self, member_ref: str, registered: MemberRegistered) -> dict[str, str]:
        """The plaintext identity. Raises KeyUnavailable once the member was erased."""
        with self.engine.connect() as conn:
            key = self.member_keys.get(conn, member_ref)
        if key is None:
            raise KeyUnavailable("the member's data key does not exist (erased or never registered)")
        return {f: open_sealed(key, member_ref, f, s) for f, s in registered.sealed.items()}

    def agency_of(self, member_ref: str) -> tuple[str, bool] | None:
        """(agency, already erased) of a member the vault knows, else None."""
        with self.engine.connect() as conn:
            return self._agency_of(conn, member_ref)

    @staticmethod
    def _agency_of(conn: Connection, member_ref: str) -> tuple[str, bool] | None:
        found = conn.execute(_KNOWN, {"ref": member_ref}).first()
        return None if found is None else (found.agency, found.rank == 2)

    def erase(self, member_ref: str, at: datetime) -> None:
        """Destroy the data key and every roster link to the member; idempotent."""
        with self.engine.begin() as conn:
            agency = conn.execute(
                select(data_keys.c.agency).where(data_keys.c.member_ref == member_ref)
            ).scalar()
            if agency is None:
                agency = conn.execute(
                    select(pseudonyms.c.agency).where(pseudonyms.c.member_ref == member_ref).limit(1)
                ).scalar()
            else:
                self.member_keys.destroy(conn, member_ref)
            gone = conn.execute(select(erased.c.agency).where(erased.c.member_ref == member_ref)).scalar()
            if agency is not None and gone is None:
                conn.execute(insert(erased).values(member_ref=member_ref, agency=agency, erased_at=at))
            conn.execute(delete(roster).where(roster.c.member_ref == member_ref))
            conn.execute(delete(pseudonyms).where(pseudonyms.c.member_ref == member_ref))
        shred_on_disk(self.engine, (data_keys, roster, pseudonyms, secrets_table))

    def rotate(self) -> int:
        """Rewrap every key held under an older KEK with the current one. Returns how many were rewrapped."""
        with self.engine.begin() as conn:
            count = sum(
                keys.rewrap(conn) for keys in (self.member_keys, self.secret_keys, self.callbacks.keys)
            )
        shred_on_disk(self.engine, (data_keys, secrets_table, callback_keys))
        return count

    # --- roster: CAD ids → member_refs ---------------------------------------------------------------

    def _secret(self, name: str) -> bytes:
        """A vault secret (made on first use), wrapped by the KEK like the data keys. Two first uses at
        once: one insert wins, and the other reads the winner's secret."""
        if (known := self._secrets.get(name)) is not None:  # never changes once made (a new KEK rewraps it)
            return known
        for _ in range(2):
            with self.engine.begin() as conn:
                key = self.secret_keys.get(conn, name)
            if key is not None:
                self._secrets[name] = key
                return key
            try:
                with self.engine.begin() as conn:
                    self._secrets[name] = self.secret_keys.make(conn, name)
                    return self._secrets[name]
            except IntegrityError:
                continue  # made by a concurrent first use: read it
        raise RuntimeError(f"vault secret {name} could not be read or made")

    def _roster_key(self) -> bytes:
        return self._secret(ROSTER_SECRET)

    # --- pseudonyms: a signed-in member's subject → their member_ref ------------------------------

    def _subject_hash(self, agency: str, subject: str) -> str:
        key = self._secret(PSEUDONYM_SECRET)
        return hmac.new(key, f"{agency}/{subject}".encode(), hashlib.sha256).hexdigest()

    def member_ref_of(self, agency: str, subject: str) -> str | None:
        """The member_ref a signed-in subject has in `agency`, if they have one (reads only)."""
        if self.known_member(agency, subject):
            return subject
        h = self._subject_hash(agency, subject)
        with self.engine.connect() as conn:
            found = conn.execute(
                select(pseudonyms.c.member_ref).where(pseudonyms.c.subject_hash == h)
            ).scalar()
        return None if found is None else str(found)

    def member_of(self, agency: str, subject: str, fresh: str) -> str:
        """The member_ref of this signed-in subject in `agency`; `fresh` becomes it on their first request.
        An identity provider that already signs members in by their member_ref is taken at its word."""
        h = self._subject_hash(agency, subject)
        for _ in range(2):  # two first requests at once: one insert wins, the other reads the winner's
            with self.engine.connect() as conn:
                if self._agency_of(conn, subject) == (agency, False):  # known_member, same connection
                    return subject
                found = conn.execute(_PSEUDONYM, {"h": h}).scalar()
            if found is not None:
                return str(found)
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(pseudonyms).values(subject_hash=h, agency=agency, member_ref=fresh))
                return fresh
            except IntegrityError:
                continue
        raise RuntimeError("a member's pseudonym could not be read or made")

    def link(self, agency: str, subject: str, member_ref: str) -> None:
        """Tie a registered member to their sign-in (a coordinator's act, e.g. on enrolling a peer)."""
        h = self._subject_hash(agency, subject)
        with self.engine.begin() as conn:
            conn.execute(delete(pseudonyms).where(pseudonyms.c.subject_hash == h))
            conn.execute(insert(pseudonyms).values(subject_hash=h, agency=agency, member_ref=member_ref))

    def registered(self, member_ref: str) -> bool:
        """Whether the member's identity is sealed here already."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(data_keys.c.member_ref).where(data_keys.c.member_ref == member_ref)
                ).first()
                is not None
            )

    def _hash(self, key: bytes, agency: str, cad_id: str) -> str:
        return hmac.new(key, f"{agency}/{cad_id.strip().lower()}".encode(), hashlib.sha256).hexdigest()

    def map_cad(self, agency: str, pairs: Iterable[tuple[str, str]]) -> int:
        """Map CAD ids to members, all or nothing. A CAD id already held by another member is never moved
        (RosterConflict names each such pair by its position); mapping it again to its member is a no-op."""
        key = self._roster_key()
        count = 0
        conflicts: list[int] = []
        with self.engine.begin() as conn:
            for i, (cad_id, member_ref) in enumerate(pairs):
                h = self._hash(key, agency, cad_id)
                held = conn.execute(
                    select(roster.c.member_ref).where(roster.c.agency == agency, roster.c.cad_hash == h)
                ).scalar()
                if held is not None and held != member_ref:
                    conflicts.append(i)
                elif held is None:
                    conn.execute(insert(roster).values(agency=agency, cad_hash=h, member_ref=member_ref))
                count += 1
            if conflicts:
                raise RosterConflict(conflicts)
        return count

    def lookup(self, agency: str, cad_ids: Iterable[str]) -> dict[str, str]:
        key = self._roster_key()
        wanted = {self._hash(key, agency, c): c for c in cad_ids}
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(roster.c.cad_hash, roster.c.member_ref).where(
                    roster.c.agency == agency, roster.c.cad_hash.in_(list(wanted))
                )
            ).all()
        return {wanted[r.cad_hash]: r.member_ref for r in rows}

    def known_member(self, agency: str, member_ref: str) -> bool:
        found = self.agency_of(member_ref)
        return found is not None and found == (agency, False)

    # --- referrals ---------------------------------------------------------------------------------

    def record_referral(self, case_id: str, agency: str, referred_by: str, role: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(referrals).values(
                    case_id=case_id, agency=agency, referred_by=referred_by, role=role, at=at
                )
            )
