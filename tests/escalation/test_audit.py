"""The audit chain on its own: built link by link, and every kind of tampering with the stored trail is
found (edited, removed, inserted, rewritten with fresh hashes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, Table, select

from services.escalation.projection import audit
from services.escalation.tables import audit_table
from shared.contracts.escalation import EscalationAcknowledged, EscalationTriggered
from shared.db import make_engine
from shared.envelope import Envelope

pytestmark = pytest.mark.unit


def setup(tmp_path: Path) -> tuple[Engine, Table, dict[int, str]]:
    metadata = MetaData()
    table = audit_table(metadata)
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    metadata.create_all(engine)
    log: dict[int, str] = {}
    with engine.begin() as conn:
        for seq in (3, 7, 8, 12):
            event = (
                EscalationTriggered(
                    case_id="c-1",
                    category="court_order",
                    raised_by_role="peer",
                    policy_version=1,
                    disclosable=True,
                )
                if seq == 3
                else EscalationAcknowledged(tier=1, by=f"u-{seq}")
            )
            env = Envelope.wrap(
                event, agency="cfd", subject="x-1", source="t", time=datetime(2026, 1, 5, 9, seq, tzinfo=UTC)
            )
            audit.append(conn, table, env, seq)
            log[seq] = audit.body(env, seq)
    return engine, table, log


def check(engine: Engine, table: Table, log: dict[int, str]) -> audit.Verdict:
    with engine.connect() as conn:
        return audit.verify_chain(conn, table, log, position=12)


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    engine, table, log = setup(tmp_path)
    verdict = check(engine, table, log)
    assert verdict.ok, verdict.problems
    assert verdict.records == 4
    with engine.connect() as conn:
        first = conn.execute(select(table).order_by(table.c.position)).mappings().first()
    assert first is not None and first["prev_hash"] == audit.GENESIS


def test_an_edited_record_is_found(tmp_path: Path) -> None:
    engine, table, log = setup(tmp_path)
    with engine.begin() as conn:
        body = conn.execute(select(table.c.body).where(table.c.seq == 7)).scalar_one()
        conn.execute(table.update().where(table.c.seq == 7).values(body=body.replace("u-7", "u-9")))
    problems = check(engine, table, log).problems
    assert any("seq 7" in p and "altered" in p for p in problems), problems


def test_a_removed_record_is_found(tmp_path: Path) -> None:
    engine, table, log = setup(tmp_path)
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.seq == 8))
    problems = check(engine, table, log).problems
    assert any("seq 8: in the log but missing" in p for p in problems), problems
    assert any("does not link" in p for p in problems), problems


def test_an_inserted_record_is_found(tmp_path: Path) -> None:
    engine, table, log = setup(tmp_path)
    del log[12]  # the log never held seq 12: the trail's record of it is an invention
    problems = check(engine, table, log).problems
    assert problems == ["seq 12: in the audit trail but no such audited event in the log"]


def test_a_trail_rewritten_with_fresh_hashes_still_differs_from_the_log(tmp_path: Path) -> None:
    engine, table, log = setup(tmp_path)
    with engine.begin() as conn:
        rows = conn.execute(select(table).order_by(table.c.position)).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            body = row["body"].replace("court_order", "written_consent")
            h = audit.link(prev, body)
            conn.execute(
                table.update()
                .where(table.c.position == row["position"])
                .values(body=body, prev_hash=prev, hash=h)
            )
            prev = h
    problems = check(engine, table, log).problems
    assert problems == ["seq 3: the audit record differs from the log (altered)"]
