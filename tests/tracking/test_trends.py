"""Leadership reports over random event histories: every report equals a recomputation from the raw
events, never publishes 1..10, never lets a hidden cell be recovered; the leadership tables hold no
identifiers; reports never read the working tables."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, inspect, select

from services.tracking.domain import iso_week
from services.tracking.projection.trends import TrendsProjection, response_bucket
from services.tracking.queries import publication, reports
from services.tracking.tables import LEADERSHIP, WORKING, trend_counts
from shared.codes import AgencyCodes, CodeLists
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
from shared.items import item_of
from shared.projection import apply_batch, ensure_schema
from tests.tracking.disclosure import Span, recoverable

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
    projection = TrendsProjection(CodeLists({"*": AgencyCodes(units=frozenset(UNITS))}))
    ensure_schema(engine, projection)

    items = [item_of(env, seq) for seq, env in enumerate(envs, start=1)]
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


THRESHOLDS = {AGENCIES[0]: 13}


def thresholds(agency: str | None) -> int:
    return max(THRESHOLDS.values()) if agency is None else THRESHOLDS.get(agency, 11)


def quarter_counts(
    truth: Counter[tuple[str, str, str, str, str]], report: str, quarter: str
) -> publication.Counts:
    measure = reports.REPORTS[report].measure
    return {
        (a, w, d, v): n
        for (a, w, m, d, v), n in truth.items()
        if m == measure and publication.quarter_of(w) == quarter
    }


def assert_safe(report: reports.Report) -> None:
    grid = [[*report.cells[i], report.row_totals[i]] for i in range(len(report.row_labels))]
    grid.append([*report.column_totals, report.total])
    for row in grid:
        for v in row:
            assert v is None or v == 0 or v >= report.threshold
    if report.row_labels:
        assert recoverable(grid) == []


DERIVED = {
    "followups": {"completed": {"completed": 1}, "open": {"scheduled": 1, "completed": -1}},
    "debriefs": {
        "accepted": {"accepted": 1},
        "declined": {"declined": 1},
        "no_answer": {"offered": 1, "accepted": -1, "declined": -1},
    },
}
PARTITIONS = {  # single-valued dimensions: each splits the same requests / contacts
    "requests": reports.REPORTS["requests"].dimensions,
    "contacts": tuple(d for d in reports.REPORTS["contacts"].dimensions if d != "category"),
}


def assert_no_table_combination_recovers_a_hidden_entry(
    published: dict[publication.Slot, reports.Report], report: str, quarter: str
) -> None:
    """Independent of how suppression works: every published number is a linear form in the base
    counts (agency, week, dimension, value); a reader also knows that every single-valued dimension
    splits the same requests/contacts. No hidden entry's form may lie in the span of what is known."""
    first, last = publication.quarter_weeks(quarter)
    weeks = [f"{first[:6]}{n:02d}" for n in range(int(first[6:]), int(last[6:]) + 1)]
    agencies = sorted({r for s, rep in published.items() if s.rows_by == "agency" for r in rep.row_labels})
    derived = DERIVED.get(report, {})
    variables: dict[tuple[str, str, str, str], int] = {}

    def var(*key: str) -> int:
        return variables.setdefault(key, len(variables))  # type: ignore[arg-type]

    def column(by: str, col: str) -> dict[str, int]:
        return derived.get(col, {col: 1})

    entries: list[tuple[dict[int, int], int | None]] = []
    for slot, rep in published.items():
        scopes = []
        for label in rep.row_labels:
            if slot.rows_by == "agency":
                scopes.append([(label, w) for w in weeks])
            else:
                scopes.append([(slot.agency, label)])
        forms = []
        for cells in scopes:
            forms.append(
                [
                    {var(a, w, slot.by, v): c for a, w in cells for v, c in column(slot.by, col).items()}
                    for col in rep.columns
                ]
            )

        def total(parts: list[dict[int, int]]) -> dict[int, int]:
            out: dict[int, int] = {}
            for part in parts:
                for k, c in part.items():
                    out[k] = out.get(k, 0) + c
            return out

        for i, row in enumerate(forms):
            entries += [(f, rep.cells[i][j]) for j, f in enumerate(row)]
            entries.append((total(row), rep.row_totals[i]))
        cols = [total([row[j] for row in forms]) for j in range(len(rep.columns))]
        entries += [(f, rep.column_totals[j]) for j, f in enumerate(cols)]
        entries.append((total(cols), rep.total))
    span = Span(len(variables) + 1)
    for form, value in entries:
        if value is not None:
            span.add(form)
    partition = PARTITIONS.get(report, ())
    values: dict[str, set[str]] = {}
    for _a, _w, d, v in variables:
        values.setdefault(d, set()).add(v)
    for a in agencies:
        for w in weeks:
            sums = [{var(a, w, d, v): 1 for v in sorted(values.get(d, ()))} for d in partition]
            for one, other in itertools.pairwise(sums):
                span.add({**one, **{k: -c for k, c in other.items()}})
    for form, value in entries:
        if value is None and form:
            assert not span.knows(form), (report, quarter, form)


ALL_REPORTS = [(name, by) for name, spec in reports.REPORTS.items() for by in spec.dimensions]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 120))
def test_every_report_equals_a_recount_from_raw_events_and_is_safe(seed: int, n_cases: int) -> None:
    envs = history(seed, n_cases)
    engine = project(envs)
    truth = recount(envs)
    publisher = publication.Reports(thresholds)
    quarters = sorted({publication.quarter_of(w) for _, w, *_ in truth} | {"2026-Q1"})
    with engine.connect() as conn:
        for quarter in quarters:
            for name in reports.REPORTS:
                want = publication.publish_quarter(
                    quarter_counts(truth, name, quarter), name, quarter, thresholds
                )
                for slot, expected in want.items():
                    got = publisher.build(
                        conn, name, slot.by, rows_by=slot.rows_by, agency=slot.agency, quarter=quarter
                    )
                    assert got == expected, (name, slot)
                    assert_safe(got)
                    assert got.threshold == thresholds(slot.agency)
                assert_no_table_combination_recovers_a_hidden_entry(want, name, quarter)


def test_published_numbers_are_the_true_counts() -> None:
    envs = history(21, 300)
    truth = recount(envs)
    published = publication.publish_quarter(
        quarter_counts(truth, "contacts", "2026-Q1"), "contacts", "2026-Q1", thresholds
    )
    report = published[publication.Slot("category", "agency", None)]
    for i, agency in enumerate(report.row_labels):
        for j, category in enumerate(report.columns):
            n = sum(
                v
                for (a, _w, m, d, c), v in truth.items()
                if (a, m, d, c) == (agency, "contacts", "category", category)
            )
            assert report.cells[i][j] in (None, n)
    assert any(v for row in report.cells for v in row if v)


def test_a_busy_demo_region_shows_real_trends_with_small_cells_hidden() -> None:
    envs = history(7, 900)
    publisher = publication.Reports(thresholds)
    with project(envs).connect() as conn:
        report = publisher.build(
            conn, "contacts", "category", rows_by="agency", agency=None, quarter="2026-Q1"
        )
        weekly = publisher.build(
            conn, "requests", "all", rows_by="week", agency=AGENCIES[1], quarter="2026-Q1"
        )
        units = publisher.build(
            conn, "contacts", "unit", rows_by="week", agency=AGENCIES[0], quarter="2026-Q1"
        )
    assert report.total is not None and report.total > 100
    assert sum(v is not None and v > 0 for row in report.cells for v in row) >= 5
    assert sum(v is not None and v >= 11 for v in weekly.row_totals) >= 3
    assert_safe(units)
    assert "suppressed" in units.to_csv()


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

    def every_report() -> dict[tuple[str, str], reports.Report]:
        publisher = publication.Reports(thresholds)
        with engine.connect() as conn:
            return {
                (n, by): publisher.build(conn, n, by, rows_by="week", agency=AGENCIES[1], quarter="2026-Q1")
                for n, by in ALL_REPORTS
            }

    before = every_report()
    assert any(r.total for r in before.values())
    for table in WORKING:
        table.drop(engine)
    assert every_report() == before


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


def test_an_incident_naming_no_agency_counts_nothing_and_does_not_fail() -> None:
    """An upsert of no rows used to be sent as `INSERT … DEFAULT VALUES ON CONFLICT`, a syntax error: the
    event failed every delivery and was dead-lettered, and what came with it in its batch was retried."""
    empty = CriticalIncidentReported(incident_type="fire", agencies=(), flags=IncidentFlags(), involved=())
    envs = [Envelope.wrap(empty, agency=AGENCIES[0], subject="i-empty", source="test", time=START)]
    envs += history(7, 3)
    engine = project(envs)
    with engine.connect() as conn:
        rows = conn.execute(select(trend_counts)).all()
    assert Counter({(r.agency, r.week, r.measure, r.dimension, r.value): r.n for r in rows}) == recount(envs)
