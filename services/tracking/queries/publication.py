"""What may be published for one report and one quarter, read from the anonymous `trend_counts`.

A report covers one whole quarter (ISO weeks 1-13, 14-26, 27-39, 40-53) — never an arbitrary range,
since two overlapping ranges could be subtracted to isolate one week. For each report and quarter the
publishable tables are each agency's weeks × one dimension and the region's agencies × one
dimension. They are suppressed together (`publish_quarter`), so that combining any of them gives a
reader nothing a single one hides. Only LEADERSHIP tables are read here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from services.tracking.domain import quarter_of as quarter_of
from services.tracking.domain.suppression import suppress
from services.tracking.queries.reports import REPORTS, VOCABULARY, BadQuery, Report, publish, table
from services.tracking.tables import trend_counts
from shared.projection import position

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def quarter_weeks(quarter: str) -> tuple[str, str]:
    m = QUARTER.match(quarter)
    if m is None:
        raise BadQuery("quarter: expected a quarter such as 2026-Q1")
    year, n = m.group(1), int(m.group(2))
    return f"{year}-W{(n - 1) * 13 + 1:02d}", f"{year}-W{53 if n == 4 else n * 13:02d}"


@dataclass(frozen=True)
class Slot:
    """One publishable table of a quarter: an agency's weeks, or the region's agencies or weeks."""

    by: str
    rows_by: str
    agency: str | None  # None: the regional roll-up


Key = tuple[str, ...]
Counts = dict[tuple[str, str, str, str], int]  # (agency, week, dimension, value) → n


def _key(scope: str, period: str, by: str, value: str | None = None) -> Key:
    """The statistic an entry shows. Tables of one quarter share statistics: every single-valued
    dimension's row total is the same count (and equals the `all` cell), an agency's column totals
    are that agency's row in the regional table, and so on."""
    if value is None or by == "all":
        return (scope, period, "#total", "category" if by == "category" else "single")
    return (scope, period, by, value)


def _tables(
    counts: Counts, report: str, quarter: str
) -> dict[Slot, tuple[list[str], list[str], list[list[int]], list[list[Key]]]]:
    """Every table of the quarter. All tables of a dimension share one column list and weekly tables
    list every week of the quarter, so which rows and columns appear gives nothing away."""
    out = {}
    agencies = sorted({a for a, _, _, _ in counts})
    first, last = quarter_weeks(quarter)
    weeks = [f"{first[:6]}{n:02d}" for n in range(int(first[6:]), int(last[6:]) + 1)]
    for by in REPORTS[report].dimensions:
        picks: dict[Slot, dict[tuple[str, str], int]] = {}
        for (agency, week, dim, value), n in counts.items():
            if dim != by:
                continue
            for slot, label in ((Slot(by, "week", agency), week), (Slot(by, "agency", None), agency)):
                pick = picks.setdefault(slot, {})
                pick[(label, value)] = pick.get((label, value), 0) + n
        _, columns, _ = table(picks.get(Slot(by, "agency", None), {}), report, by)
        slots = [(Slot(by, "week", a), weeks) for a in agencies]
        slots.append((Slot(by, "agency", None), agencies))
        for slot, rows in slots:
            labels, _, cells = table(picks.get(slot, {}), report, by, rows, columns)
            scope = slot.agency or "*"
            keys = []
            for label in labels:
                where, when = (label, quarter) if slot.rows_by == "agency" else (scope, label)
                keys.append([*(_key(where, when, by, c) for c in columns), _key(where, when, by)])
            keys.append([*(_key(scope, quarter, by, c) for c in columns), _key(scope, quarter, by)])
            out[slot] = (labels, columns, cells, keys)
    return out


def publish_quarter(
    counts: Counts, report: str, quarter: str, thresholds: Callable[[str | None], int]
) -> dict[Slot, Report]:
    """Every table of one report for one quarter, suppressed together: a statistic hidden in one
    table is hidden in every table that shows it, and each table is then closed again under
    complementary suppression, until nothing changes. A reader combining any of these tables learns
    no published number that another table hides."""
    tables = _tables(counts, report, quarter)
    hidden: set[Key] = set()
    grew = True
    while grew:
        grew = False
        for slot, (_, _, cells, keys) in tables.items():
            forced = {(i, j) for i, row in enumerate(keys) for j, k in enumerate(row) if k in hidden}
            found = {keys[i][j] for i, j in suppress(cells, thresholds(slot.agency), forced)}
            if found - hidden:
                hidden |= found
                grew = True
    out = {}
    for slot, (labels, columns, cells, keys) in tables.items():
        entries = {(i, j) for i, row in enumerate(keys) for j, k in enumerate(row) if k in hidden}
        out[slot] = publish(
            report, slot.by, slot.rows_by, labels, columns, cells, thresholds(slot.agency), entries
        )
    return out


def load_quarter(conn: Connection, report: str, quarter: str) -> Counts:
    first, last = quarter_weeks(quarter)
    q = select(
        trend_counts.c.agency,
        trend_counts.c.week,
        trend_counts.c.dimension,
        trend_counts.c.value,
        trend_counts.c.n,
    ).where(
        trend_counts.c.measure == REPORTS[report].measure,
        trend_counts.c.week >= first,
        trend_counts.c.week <= last,
    )
    return {(a, w, d, v): int(n) for a, w, d, v, n in conn.execute(q)}


class Reports:
    """Builds reports from the projection, caching each quarter's suppressed tables until the
    projection moves on."""

    def __init__(self, thresholds: Callable[[str | None], int], projection: str = "tracking-trends") -> None:
        self.thresholds, self.projection = thresholds, projection
        self._cache: dict[tuple[str, str], tuple[int, dict[Slot, Report]]] = {}

    def build(
        self, conn: Connection, report: str, by: str, *, rows_by: str, agency: str | None, quarter: str
    ) -> Report:
        spec = REPORTS.get(report)
        if spec is None:
            raise BadQuery(f"report: one of {sorted(REPORTS)}")
        if by not in spec.dimensions:
            raise BadQuery(f"by: for {report}, one of {list(spec.dimensions)}")
        quarter_weeks(quarter)
        at = position(conn, self.projection)
        cached = self._cache.get((report, quarter))
        if cached is None or cached[0] != at:
            cached = (
                at,
                publish_quarter(load_quarter(conn, report, quarter), report, quarter, self.thresholds),
            )
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[(report, quarter)] = cached
        slot = Slot(by, rows_by, agency)
        empty = publish(report, by, rows_by, [], [*VOCABULARY.get(by, ())], [], self.thresholds(agency))
        return cached[1].get(slot, empty)
