"""Leadership reports: what each report counts, how a table of counts is laid out, and how a
suppressed table is shown (JSON or CSV). `publication` decides what is hidden.

Totals are the sums of the table's own cells (for categories, where one contact may name several,
that is mentions, not contacts), so the suppression's line equations are exactly what a reader can
compute from what is published.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, get_args

from services.tracking.domain.suppression import augmented, suppress
from services.tracking.projection.trends import RESPONSE_BUCKETS
from shared.contracts.intake import Activation
from shared.contracts.tracking import Category, ContactMode, DurationBucket, Referral

YES_NO = ("yes", "no")
VOCABULARY: dict[str, tuple[str, ...]] = {
    "all": ("all",),
    "activation": get_args(Activation),
    "mode": get_args(ContactMode),
    "duration": get_args(DurationBucket),
    "referral": get_args(Referral),
    "category": get_args(Category),
    "followup_wanted": YES_NO,
    "risk_flag": YES_NO,
    "bucket": RESPONSE_BUCKETS,
    "status": ("completed", "open"),
    "outcome": ("accepted", "declined", "no_answer"),
}


@dataclass(frozen=True)
class Spec:
    measure: str
    dimensions: tuple[str, ...]


REPORTS: dict[str, Spec] = {
    "requests": Spec("requests", ("all", "unit", "discipline", "activation")),
    "contacts": Spec(
        "contacts",
        (
            "all",
            "unit",
            "discipline",
            "activation",
            "mode",
            "duration",
            "referral",
            "category",
            "followup_wanted",
            "risk_flag",
        ),
    ),
    "response_times": Spec("response_time", ("bucket",)),
    "followups": Spec("followups", ("status",)),
    "debriefs": Spec("debriefs", ("outcome",)),
    "incidents": Spec("incidents", ("all",)),
}
# rate name → (column, whether the rate is 1 - share of that column)
RATES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("contacts", "referral"): ("referral_rate", "none", True),
    ("followups", "status"): ("completion_rate", "completed", False),
    ("debriefs", "outcome"): ("uptake_rate", "accepted", False),
}


def default_by(report: str) -> str:
    """A report's default view: its first dimension (`all` where it has one)."""
    spec = REPORTS.get(report)
    return spec.dimensions[0] if spec else "all"


class BadQuery(ValueError):
    """A report that does not exist, or a dimension it does not have (message names the field)."""


@dataclass
class Report:
    report: str
    by: str
    rows_by: str
    threshold: int
    row_labels: list[str]
    columns: list[str]
    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    rates: dict[str, list[float | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "by": self.by,
            "rows": self.rows_by,
            "suppression": {"threshold": self.threshold, "marker": None},
            "row_labels": self.row_labels,
            "columns": self.columns,
            "cells": self.cells,
            "row_totals": self.row_totals,
            "column_totals": self.column_totals,
            "total": self.total,
            "rates": self.rates,
        }

    def to_csv(self) -> str:
        def show(v: int | float | None) -> str:
            return "suppressed" if v is None else str(v)

        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([self.rows_by, *self.columns, "total", *self.rates])
        for i, label in enumerate(self.row_labels):
            rates = [show(r[i]) for r in self.rates.values()]
            w.writerow([label, *(show(v) for v in self.cells[i]), show(self.row_totals[i]), *rates])
        w.writerow(["total", *(show(v) for v in self.column_totals), show(self.total)])
        return out.getvalue()


def publish(
    report: str,
    by: str,
    rows_by: str,
    labels: list[str],
    columns: list[str],
    cells: list[list[int]],
    threshold: int,
    hidden: set[tuple[int, int]] | None = None,
) -> Report:
    """Keep only what may be shown of a table of true counts (suppressed alone unless `hidden` is given)."""
    hidden = suppress(cells, threshold) if hidden is None else hidden
    grid = augmented(cells) if cells else [[0] * (len(columns) + 1)]
    shown = [[None if (i, j) in hidden else v for j, v in enumerate(row)] for i, row in enumerate(grid)]
    r, c = len(cells), len(columns)
    out = Report(
        report=report,
        by=by,
        rows_by=rows_by,
        threshold=threshold,
        row_labels=labels,
        columns=columns,
        cells=[row[:c] for row in shown[:r]],
        row_totals=[row[c] for row in shown[:r]],
        column_totals=shown[r][:c],
        total=shown[r][c],
    )
    rate = RATES.get((report, by))
    if rate is not None:
        name, column, complement = rate
        j = columns.index(column)
        values: list[float | None] = []
        for part, whole in zip([row[j] for row in out.cells], out.row_totals, strict=True):
            if part is None or not whole:
                values.append(None)
            else:
                values.append(round(1 - part / whole if complement else part / whole, 4))
        out.rates[name] = values
    return out


def derive(report: str, raw: dict[str, int]) -> dict[str, int]:
    """Columns shown for stored counts: open follow-ups and unanswered offers are what remains."""
    if report == "followups":
        return {
            "completed": raw.get("completed", 0),
            "open": raw.get("scheduled", 0) - raw.get("completed", 0),
        }
    if report == "debriefs":
        acc, dec = raw.get("accepted", 0), raw.get("declined", 0)
        return {"accepted": acc, "declined": dec, "no_answer": raw.get("offered", 0) - acc - dec}
    return raw


def table(
    counts: dict[tuple[str, str], int],
    report: str,
    by: str,
    labels: list[str] | None = None,
    columns: list[str] | None = None,
) -> tuple[list[str], list[str], list[list[int]]]:
    """Row labels, columns and cells from stored counts keyed by (row label, stored value)."""
    per_row: dict[str, dict[str, int]] = {}
    for (label, value), n in counts.items():
        row = per_row.setdefault(label, {})
        row[value] = row.get(value, 0) + n
    shown = {label: derive(report, raw) for label, raw in per_row.items()}
    if columns is None:
        vocabulary = VOCABULARY.get(by, ())
        seen = {v for values in shown.values() for v in values}
        columns = [*vocabulary, *sorted(seen - set(vocabulary))]
    labels = sorted(shown) if labels is None else labels
    return labels, columns, [[shown.get(label, {}).get(col, 0) for col in columns] for label in labels]
