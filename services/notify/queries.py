"""People, their contact points and the on-call schedule: SQL on notify's own tables (thin, no rules).

Every function takes an open connection, so the HTTP API and the inbox each run them in their own
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, select

from services.notify.domain import Quiet
from services.notify.sealing import Sealer
from services.notify.tables import contacts, oncall, people, reach


@dataclass(frozen=True)
class Prefs:
    role: str
    tz: str
    quiet: Quiet | None
    opt_in: bool


# Built once: the inbox runs these for every notice it queues, and building a statement per call costs
# several times what SQLite spends running it (shared.prepared runs a statement it sees again as is).
_AGENCY: BindParameter[str] = bindparam("agency")
_REF: BindParameter[str] = bindparam("ref")
_AT: BindParameter[datetime] = bindparam("at")
_PERSON = select(people).where(people.c.agency == _AGENCY, people.c.ref == _REF)
_CONTACTS = (
    select(contacts)
    .where(contacts.c.agency == _AGENCY, contacts.c.ref == _REF)
    .order_by(contacts.c.created_at)
)
_ON_CALL = select(oncall.c.ref).where(
    oncall.c.agency == _AGENCY,
    oncall.c.role == bindparam("role"),
    oncall.c.starts_at <= _AT,
    oncall.c.ends_at > _AT,
)
_COORDINATORS = select(people.c.ref).where(people.c.agency == _AGENCY, people.c.role == "coordinator")


def prefs(conn: Connection, agency: str, ref: str) -> Prefs | None:
    row = conn.execute(_PERSON, {"agency": agency, "ref": ref}).first()
    if row is None:
        return None
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = Quiet(time.fromisoformat(row.quiet_start), time.fromisoformat(row.quiet_end), row.tz)
    return Prefs(row.role, row.tz or "UTC", quiet, bool(row.opt_in))


def save_person(conn: Connection, agency: str, ref: str, role: str, **values: Any) -> None:
    """Create the person's row, or update it with `values` (tz, quiet_start, quiet_end, opt_in)."""
    where = and_(people.c.agency == agency, people.c.ref == ref)
    if conn.execute(select(people.c.ref).where(where)).first() is None:
        conn.execute(people.insert().values(agency=agency, ref=ref, role=role, **values))
    else:
        conn.execute(people.update().where(where).values(role=role, **values))


def add_contact(
    conn: Connection, sealer: Sealer, contact_id: str, agency: str, ref: str, channel: str,
    value: dict[str, Any], now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        contacts.insert().values(
            contact_id=contact_id,
            agency=agency,
            ref=ref,
            channel=channel,
            sealed=sealer.seal(contact_id, value),
            working=True,
            created_at=now,
        )
    )


def remove_contact(conn: Connection, agency: str, ref: str, contact_id: str) -> bool:
    mine = and_(contacts.c.contact_id == contact_id, contacts.c.agency == agency, contacts.c.ref == ref)
    return conn.execute(contacts.delete().where(mine)).rowcount > 0


def contacts_of(conn: Connection, agency: str, ref: str) -> list[Any]:
    return list(conn.execute(_CONTACTS, {"agency": agency, "ref": ref}))


def working_contacts(conn: Connection, agency: str, ref: str, channels: Iterable[str]) -> list[Any]:
    return [r for r in contacts_of(conn, agency, ref) if r.working and r.channel in set(channels)]


def set_working(conn: Connection, contact_id: str, working: bool) -> Any:
    conn.execute(contacts.update().where(contacts.c.contact_id == contact_id).values(working=working))
    return conn.execute(select(contacts).where(contacts.c.contact_id == contact_id)).first()


def refresh_reach(conn: Connection, agency: str, ref: str, channels: Iterable[str]) -> None:
    """Record a peer's reachability when it changes (announced on the log by the dispatcher)."""
    found = prefs(conn, agency, ref)
    if found is None or found.role != "peer":
        return
    now_reachable = bool(working_contacts(conn, agency, ref, channels))
    where = and_(reach.c.agency == agency, reach.c.ref == ref)
    row = conn.execute(select(reach).where(where)).first()
    if row is None:
        conn.execute(reach.insert().values(agency=agency, ref=ref, reachable=now_reachable, version=1))
    elif bool(row.reachable) != now_reachable:
        conn.execute(
            reach.update()
            .where(where)
            .values(reachable=now_reachable, version=row.version + 1, reported=False)
        )


def reachable(conn: Connection, agency: str, refs: Iterable[str], channels: Iterable[str]) -> dict[str, bool]:
    return {ref: bool(working_contacts(conn, agency, ref, channels)) for ref in refs}


# --- On call ------------------------------------------------------------------------------------------


def set_schedule(
    conn: Connection, agency: str, role: str, shifts: Iterable[tuple[str, datetime, datetime]]
) -> None:
    """Replace the agency's schedule for `role`."""
    conn.execute(oncall.delete().where(oncall.c.agency == agency, oncall.c.role == role))
    rows = [dict(agency=agency, role=role, ref=r, starts_at=s, ends_at=e) for r, s, e in shifts]
    if rows:
        conn.execute(oncall.insert(), rows)


def schedule(conn: Connection, agency: str, role: str) -> list[Any]:
    query = select(oncall).where(oncall.c.agency == agency, oncall.c.role == role)
    return list(conn.execute(query.order_by(oncall.c.starts_at, oncall.c.ref)))


def on_call(conn: Connection, agency: str, role: str, at: datetime) -> list[str]:
    return sorted(conn.execute(_ON_CALL, {"agency": agency, "role": role, "at": at}).scalars())


def coordinators(conn: Connection, agency: str) -> list[str]:
    return sorted(conn.execute(_COORDINATORS, {"agency": agency}).scalars())
