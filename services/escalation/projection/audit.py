"""The tamper-evident audit trail: every policy version, escalation step and disclosure, hash-chained.

The log itself cannot be altered in place (the stream denies delete and purge), so the trail kept in the
escalation database is what could be altered: a row edited, removed or inserted. Each record is the
canonical JSON of one log event (with its stream sequence) and its hash covers the previous hash, so an
edit breaks the chain; `verify` also recomputes every record from the log, so a trail rewritten with fresh
hashes still differs from what the log says.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Table,
    func,
    select,
)

from shared.envelope import Envelope
from shared.projection import later

GENESIS = "0" * 64


def body(env: Envelope, seq: int) -> str:
    """The canonical record of one event: what the log holds, in a byte-stable form."""
    record = {
        "seq": seq,
        "id": env.id,
        "type": env.type,
        "agency": env.agency,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "correlationid": env.correlationid,
        "causationid": env.causationid,
        "data": env.data,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def link(prev_hash: str, record: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{record}".encode()).hexdigest()


@functools.cache
def _statements(table: Table) -> tuple[Select[int, str], Insert]:
    """The chain's end and its insert, built once per table (building them per event costs more than
    SQLite spends running them)."""
    last = select(table.c.position, table.c.hash).order_by(table.c.position.desc()).limit(1)
    return last, table.insert()


_TAIL = "peerline.audit_tail"  # conn.info: (transaction, table, position, hash) of the chain's end


def append(conn: Connection, table: Table, env: Envelope, seq: int) -> None:
    """Add one event's record to the end of the chain (inside the projection's transaction). The chain's
    end is read once per transaction and then followed here, and the record is written with the batch
    (shared.projection.later: one executemany at commit), since nothing in `apply` reads records back."""
    txn = conn.get_transaction()
    tail = conn.info.get(_TAIL)
    if tail is not None and tail[0] is txn and tail[1] is table:
        position, prev = tail[2], tail[3]
    else:
        last_stmt, _ = _statements(table)
        last = conn.execute(last_stmt).first()
        position, prev = (last[0], last[1]) if last else (0, GENESIS)
    record = body(env, seq)
    row = {
        "position": position + 1,
        "seq": seq,
        "event_id": env.id,
        "event_type": env.type,
        "agency": env.agency,
        "aggregate_id": env.subject,
        "occurred_at": env.time,
        "body": record,
        "prev_hash": prev,
        "hash": link(prev, record),
    }
    later(conn, _statements(table)[1], row)
    conn.info[_TAIL] = (txn, table, position + 1, row["hash"])


@dataclass
class Verdict:
    records: int = 0
    checked_up_to_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_links(conn: Connection, table: Table, verdict: Verdict) -> dict[int, str]:
    """Check the stored chain link by link (problems go into `verdict`); returns seq → stored record."""
    rows = conn.execute(
        select(table.c.position, table.c.seq, table.c.body, table.c.prev_hash, table.c.hash).order_by(
            table.c.position
        )
    ).all()
    verdict.records = len(rows)
    prev = GENESIS
    stored: dict[int, str] = {}
    for expected_position, row in enumerate(rows, start=1):
        where = f"record {row.position} (seq {row.seq})"
        if row.position != expected_position:
            verdict.problems.append(f"{where}: expected position {expected_position}: a record is missing")
        if row.prev_hash != prev:
            verdict.problems.append(f"{where}: does not link to the record before it")
        if link(row.prev_hash, row.body) != row.hash:
            verdict.problems.append(f"{where}: content does not match its hash (altered)")
        prev = row.hash
        stored[row.seq] = row.body
    return stored


def records_of(conn: Connection, table: Table, agency: str, escalation_id: str) -> list[dict[str, object]]:
    """An escalation's audit records (its own events and the disclosures made under it), in order."""
    mark = f'"escalation_id":"{escalation_id}"'
    rows = conn.execute(
        select(
            table.c.position, table.c.seq, table.c.event_type, table.c.occurred_at, table.c.body, table.c.hash
        )
        .where(
            table.c.agency == agency,
            (table.c.aggregate_id == escalation_id) | table.c.body.contains(mark, autoescape=True),
        )
        .order_by(table.c.position)
    ).mappings()
    return [
        {
            "position": r["position"],
            "seq": r["seq"],
            "type": r["event_type"],
            "at": r["occurred_at"],
            "data": json.loads(r["body"])["data"],
            "hash": r["hash"],
        }
        for r in rows
    ]


def verify_chain(
    conn: Connection, table: Table, log: dict[int, str], position: int, latest: int | None = None
) -> Verdict:
    """Check the stored chain link by link, then against `log` (seq → canonical record recomputed from the
    log) for every audited event up to the projection's `position` (read before the log was); no record
    may claim an event past `latest` (the position read after)."""
    verdict = Verdict(checked_up_to_seq=position)
    stored = check_links(conn, table, verdict)
    for seq, record in sorted(log.items()):
        if seq > position:
            continue
        if seq not in stored:
            verdict.problems.append(f"seq {seq}: in the log but missing from the audit trail")
        elif stored[seq] != record:
            verdict.problems.append(f"seq {seq}: the audit record differs from the log (altered)")
    latest = position if latest is None else latest
    for seq in sorted(s for s in set(stored) - set(log) if s <= position or s > latest):
        verdict.problems.append(f"seq {seq}: in the audit trail but no such audited event in the log")
    return verdict


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
