"""Leadership reports over random event histories: every report equals a recomputation from the raw
events, never publishes 1..10, never lets a hidden cell be recovered; the leadership tables hold no
identifiers; reports never read the working tables."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, inspect, select

from services.tracking import reports
from services.tracking.domain import iso_week
from services.tracking.suppression import augmented
from services.tracking.trends import LEADERSHIP, WORKING, TrendsProjection, response_bucket
from shared.contracts.base import Event
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, SupportRequested
from shared.contracts.matching import PeerAssigned
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
    FollowupCompleted,
    FollowupScheduled,
)
from shared.envelope import Envelope
from shared.projection import apply_batch, ensure_schema, parse
from tests.tracking.disclosure import recoverable

pytestmark = pytest.mark.unit
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AGENCIES = ("north-fire", "north-ems")
UNITS = ("st-1", "st-2", "st-3")
DISCIPLINES = ("fire", "ems", "dispatch")
CATEGORIES = ("critical_incident", "operational_stress", "grief", "family_relationship", "health")


def history(seed: int, n_cases: int) -> list[Envelope]:
    """A plausible log: requests, assignments, coded contacts, closings, follow-ups, debriefs, incidents."""
    rnd = random.Random(seed)
    out: list[tuple[datetime, int, Event, str, str]] = []

    def add(at: datetime, event: Event, agency: str, subject: str) -> None:
        out.append((at, len(out), event, agency, subject))

    for k in range(n_cases):
        agency, case = rnd.choice(AGENCIES), f"c-{seed}-{k}"
        at = START + timedelta(days=rnd.randrange(21), minutes=rnd.randrange(600))
        unit = rnd.choice((*UNITS, None))
        add(
            at,
            SupportRequested(
                activation=rnd.choice(("self", "supervisor", "peer", "post_incident")),
                discipline=rnd.choice(DISCIPLINES),
                unit=unit,
                member_ref=f"m-{seed}-{k}",
                token_hash="0" * 64,
            ),
            agency,
            case,
        )
        if rnd.random() < 0.85:
            for _ in range(rnd.choice((1, 1, 2))):
                at += timedelta(minutes=rnd.choice((3, 20, 90, 300, 2000)))
                add(at, PeerAssigned(peer_ref=f"p-{rnd.randrange(5)}", peer_agency=agency), agency, case)
            for _ in range(rnd.randrange(4)):
                at += timedelta(days=rnd.randrange(4))
                add(
                    at,
                    ContactLogged(
                        peer_ref="p-0",
                        week=iso_week(at),
                        mode=rnd.choice(("in_person", "phone", "text", "video")),
                        categories=tuple(sorted(set(rnd.sample(CATEGORIES, rnd.randint(1, 2))))),
                        duration=rnd.choice(("under_15m", "15_30m", "30_60m", "over_60m")),
                        referral=rnd.choice(("none", "none", "eap", "clinician", "chaplain")),
                        followup_wanted=rnd.random() < 0.4,
                        risk_flag=rnd.random() < 0.05,
                    ),
                    agency,
                    case,
                )
            if rnd.random() < 0.5:
                add(at + timedelta(hours=1), CaseClosed(), agency, case)
        if rnd.random() < 0.4:
            fid, due = f"f-{seed}-{k}", at + timedelta(days=2)
            add(at, FollowupScheduled(case_id=case, peer_ref="p-0", due_at=due.isoformat(), n=1), agency, fid)
            if rnd.random() < 0.6:
                add(due, FollowupCompleted(case_id=case), agency, fid)
    for k in range(n_cases // 2):
        agency, did = rnd.choice(AGENCIES), f"d-{seed}-{k}"
        at = START + timedelta(days=rnd.randrange(21))
        offered = DebriefOffered(
            incident_id="i-1",
            incident_agency=agency,
            member_ref=f"m-{seed}-d{k}",
            role="responder",
            offer_type="debrief",
            window_opens=at.isoformat(),
            window_closes=(at + timedelta(days=3)).isoformat(),
        )
        add(at, offered, agency, did)
        answer = rnd.choice((DebriefAccepted(), DebriefDeclined(), None))
        if answer is not None:
            add(at + timedelta(hours=5), answer, agency, did)
    for k in range(n_cases // 4):
        at = START + timedelta(days=rnd.randrange(21))
        incident = CriticalIncidentReported(
            incident_type="mass casualty",
            agencies=tuple(rnd.sample(AGENCIES, rnd.randint(1, 2))),
            flags=IncidentFlags(mass_casualty=True),
            involved=(),
        )
        add(at, incident, AGENCIES[0], f"i-{seed}-{k}")
    out.sort(key=lambda t: (t[0], t[1]))
    return [Envelope.wrap(e, agency=a, subject=s, source="test", time=t) for t, _, e, a, s in out]


def project(envs: list[Envelope]) -> Engine:
    engine = create_engine("sqlite://")
    projection = TrendsProjection()
    ensure_schema(engine, projection)

    class Msg:
        def __init__(self, env: Envelope, seq: int) -> None:
            self.data = env.to_bytes()
            self.metadata = type("M", (), {"sequence": type("S", (), {"stream": seq})()})()

    items = [parse(Msg(env, seq)) for seq, env in enumerate(envs, start=1)]  # type: ignore[arg-type]
    for start in range(0, len(items), 50):
        apply_batch(engine, projection, items[start : start + 50])
    return engine


def recount(envs: list[Envelope]) -> Counter[tuple[str, str, str, str, str]]:
    """(agency, week, measure, dimension, value) → n, straight from the raw events."""
    n: Counter[tuple[str, str, str, str, str]] = Counter()
    cases: dict[str, dict[str, Any]] = {}
    followups: dict[str, tuple[str, str]] = {}
    debriefs: dict[str, tuple[str, str]] = {}
    for env in envs:
        e = env.payload()
        if isinstance(e, SupportRequested):
            facts = {
                "agency": env.agency,
                "at": env.time,
                "unit": e.unit or "unknown",
                "discipline": e.discipline or "unknown",
                "activation": e.activation,
                "assigned": False,
            }
            cases[env.subject] = facts
            for dim in ("unit", "discipline", "activation"):
                n[(env.agency, iso_week(env.time), "requests", dim, facts[dim])] += 1
            n[(env.agency, iso_week(env.time), "requests", "all", "all")] += 1
        elif isinstance(e, PeerAssigned) and not cases[env.subject]["assigned"]:
            facts = cases[env.subject]
            facts["assigned"] = True
            bucket = response_bucket((env.time - facts["at"]).total_seconds())
            n[(env.agency, iso_week(facts["at"]), "response_time", "bucket", bucket)] += 1
        elif isinstance(e, ContactLogged):
            facts = cases[env.subject]
            key = (env.agency, e.week, "contacts")
            for dim in ("unit", "discipline", "activation"):
                n[(*key, dim, facts[dim])] += 1
            for dim, value in (
                ("all", "all"),
                ("mode", e.mode),
                ("duration", e.duration),
                ("referral", e.referral),
                ("followup_wanted", "yes" if e.followup_wanted else "no"),
                ("risk_flag", "yes" if e.risk_flag else "no"),
                *(("category", c) for c in e.categories),
            ):
                n[(*key, dim, value)] += 1
        elif isinstance(e, FollowupScheduled):
            followups[env.subject] = (env.agency, iso_week(env.time))
            n[(env.agency, iso_week(env.time), "followups", "status", "scheduled")] += 1
        elif isinstance(e, FollowupCompleted):
            n[(*followups[env.subject], "followups", "status", "completed")] += 1
        elif isinstance(e, DebriefOffered):
            debriefs[env.subject] = (env.agency, iso_week(env.time))
            n[(env.agency, iso_week(env.time), "debriefs", "outcome", "offered")] += 1
        elif isinstance(e, DebriefAccepted | DebriefDeclined):
            outcome = "accepted" if isinstance(e, DebriefAccepted) else "declined"
            n[(*debriefs[env.subject], "debriefs", "outcome", outcome)] += 1
        elif isinstance(e, CriticalIncidentReported):
            for agency in set(e.agencies):
                n[(agency, iso_week(env.time), "incidents", "all", "all")] += 1
    return n


def expected(
    truth: Counter[tuple[str, str, str, str, str]],
    report: str,
    by: str,
    rows_by: str,
    agencies: set[str],
    t: int,
) -> reports.Report:
    measure = reports.REPORTS[report].measure
    picked: Counter[tuple[str, str]] = Counter()
    for (agency, week, m, dim, value), count in truth.items():
        if m == measure and dim == by and agency in agencies:
            picked[(week if rows_by == "week" else agency, value)] += count
    labels, columns, cells = reports.table(dict(picked), report, by)
    return reports.publish(report, by, rows_by, labels, columns, cells, t)


def assert_safe(report: reports.Report) -> None:
    grid = [[*report.cells[i], report.row_totals[i]] for i in range(len(report.row_labels))]
    grid.append([*report.column_totals, report.total])
    for row in grid:
        for v in row:
            assert v is None or v == 0 or v >= report.threshold
    if report.row_labels:
        assert recoverable(grid) == []


ALL_REPORTS = [(name, by) for name, spec in reports.REPORTS.items() for by in spec.dimensions]


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 120), st.sampled_from([11, 13]))
def test_every_report_equals_a_recount_from_raw_events_and_is_safe(seed: int, n_cases: int, t: int) -> None:
    envs = history(seed, n_cases)
    engine = project(envs)
    truth = recount(envs)
    with engine.connect() as conn:
        for name, by in ALL_REPORTS:
            for agency in AGENCIES:
                got = reports.build(conn, name, by, rows_by="week", agencies=[agency], threshold=t)
                assert got == expected(truth, name, by, "week", {agency}, t), (name, by, agency)
                assert_safe(got)
            got = reports.build(conn, name, by, rows_by="agency", agencies=None, threshold=t)
            assert got == expected(truth, name, by, "agency", set(AGENCIES), t), (name, by)
            assert_safe(got)
            # what is published is the truth
            full = augmented(reports.table(_picked(truth, name, by), name, by)[2]) if got.row_labels else []
            for i, row in enumerate(full):
                shown = (
                    [*got.cells[i], got.row_totals[i]]
                    if i < len(got.row_labels)
                    else [*got.column_totals, got.total]
                )
                assert all(s is None or s == v for s, v in zip(shown, row, strict=True))


def _picked(
    truth: Counter[tuple[str, str, str, str, str]], report: str, by: str
) -> dict[tuple[str, str], int]:
    measure = reports.REPORTS[report].measure
    picked: Counter[tuple[str, str]] = Counter()
    for (agency, _week, m, dim, value), count in truth.items():
        if m == measure and dim == by:
            picked[(agency, value)] += count
    return dict(picked)


def test_a_busy_demo_region_shows_real_trends_with_small_cells_hidden() -> None:
    envs = history(7, 900)
    with project(envs).connect() as conn:
        report = reports.build(conn, "contacts", "category", rows_by="agency", agencies=None)
        weekly = reports.build(conn, "requests", "all", rows_by="week", agencies=[AGENCIES[0]])
        units = reports.build(conn, "contacts", "unit", rows_by="week", agencies=[AGENCIES[0]])
    assert report.total is not None and report.total > 100
    assert sum(v is not None and v > 0 for row in report.cells for v in row) >= 5
    assert all(v is not None and v >= 11 for v in weekly.row_totals)
    assert_safe(units)
    assert "suppressed" in units.to_csv() or all(v != 0 for row in units.cells for v in row)


IDENTIFIER_COLUMNS = {
    "member_ref",
    "peer_ref",
    "case_id",
    "followup_id",
    "debrief_id",
    "incident_id",
    "subject",
}


def test_leadership_tables_hold_no_identifier_columns_or_values() -> None:
    envs = history(3, 150)
    engine = project(envs)
    identifiers = {env.subject for env in envs}
    for env in envs:
        e = env.payload()
        identifiers |= {str(getattr(e, f)) for f in ("member_ref", "peer_ref", "case_id") if hasattr(e, f)}
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in LEADERSHIP} <= tables
    with engine.connect() as conn:
        for table in LEADERSHIP:
            names = {c.name for c in table.columns}
            assert not names & IDENTIFIER_COLUMNS
            assert not any(n.endswith(("_ref", "_id")) for n in names), names
            rows = conn.execute(select(table)).all()
            assert rows
            assert not {str(v) for row in rows for v in row} & identifiers


def test_reports_never_read_the_working_tables() -> None:
    engine = project(history(5, 60))
    with engine.connect() as conn:
        before = {
            n: reports.build(conn, n, by, rows_by="week", agencies=[AGENCIES[1]]) for n, by in ALL_REPORTS
        }
    for table in WORKING:
        table.drop(engine)
    with engine.connect() as conn:
        after = {
            n: reports.build(conn, n, by, rows_by="week", agencies=[AGENCIES[1]]) for n, by in ALL_REPORTS
        }
    assert before == after


def test_working_rows_are_dropped_once_nothing_more_can_be_counted() -> None:
    envs = history(11, 80)
    engine = project(envs)
    closed = {env.subject for env in envs if env.event_name in ("case_closed", "request_cancelled")}
    answered = {
        env.subject
        for env in envs
        if env.event_name in ("followup_completed", "debrief_accepted", "debrief_declined")
    }
    with engine.connect() as conn:
        kept = {r[0] for t in WORKING for r in conn.execute(select(t.c[next(iter(t.primary_key)).name]))}
    assert closed and answered and not kept & (closed | answered)
