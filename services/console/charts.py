"""A tracking report, as the leader sees it: one table of strings (what the page shows and the CSV holds,
the same cells) and bar charts drawn as plain SVG on the server. The report arrives already suppressed
by tracking; a hidden cell (None) is only ever shown as "fewer than N", never estimated or drawn."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH, HEIGHT, PAD = 640, 220, 36  # the viewBox; the picture scales with the page


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    footer: list[str]

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerows([self.header, *self.rows, self.footer])
        return out.getvalue()


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str  # the table's text for it
    x: float
    y: float
    width: float
    height: float
    hidden: bool  # suppressed: an outline at the threshold's height, no value


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    top: int  # the y axis' highest value
    tick_every: int  # label every n-th bar (13 weeks do not fit as labels on a phone)


def table(report: dict[str, Any], words: Callable[[str], str]) -> Table:
    """`words` translates the fixed words (`total`, `fewer than {n}`, column names)."""
    hidden = words("fewer than {n}").format(n=report["suppression"]["threshold"])

    def show(v: int | None) -> str:
        return hidden if v is None else str(v)

    def rate(v: float | None) -> str:
        return words("not shown") if v is None else f"{round(v * 100)}%"

    rates = report.get("rates", {})
    header = [words(report["rows"]), *(words(c) for c in report["columns"]), words("total")]
    header += [words(name) for name in rates]
    rows = [
        [label, *(show(v) for v in cells), show(total), *(rate(r[i]) for r in rates.values())]
        for i, (label, cells, total) in enumerate(
            zip(report["row_labels"], report["cells"], report["row_totals"], strict=True)
        )
    ]
    footer = [words("total"), *(show(v) for v in report["column_totals"]), show(report["total"])]
    return Table(header, rows, footer + [""] * len(rates))


def chart(title: str, labels: list[str], values: list[int | None], threshold: int, hidden: str) -> Chart:
    """Vertical bars, one per label (weeks, agencies or a dimension's values)."""
    top = max([v for v in values if v is not None] + [threshold])
    slot = (WIDTH - 2 * PAD) / max(len(values), 1)
    plot = HEIGHT - 2 * PAD
    bars = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        h = plot * (threshold if v is None else v) / top
        bars.append(
            Bar(
                label=label,
                shown=hidden if v is None else str(v),
                x=round(PAD + i * slot + slot * 0.15, 1),
                y=round(HEIGHT - PAD - h, 1),
                width=round(slot * 0.7, 1),
                height=round(h, 1),
                hidden=v is None,
            )
        )
    return Chart(title, bars, top, tick_every=1 if len(values) <= 8 else 3)


def quarters(today: date, n: int = 4) -> list[str]:
    """The current quarter and the n-1 before it, as tracking names them (ISO weeks 1-13 are Q1…)."""
    year, week, _ = today.isocalendar()
    q = min((week - 1) // 13 + 1, 4)
    out = []
    for _ in range(n):
        out.append(f"{year}-Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return out
