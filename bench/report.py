"""Figures: a rich table on the console and the same content as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table


@dataclass(frozen=True)
class Figure:
    """One measured value; `ratio` = value / baseline, checked against `target` if set: a minimum, or a
    maximum with `at_most` (latencies)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    note: str = ""
    at_most: bool = False

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        if math.isnan(self.ratio):
            return "MISS"
        met = self.ratio <= self.target if self.at_most else self.ratio >= self.target
        return "pass" if met else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "verdict": self.verdict or None}


@dataclass
class Report:
    started: datetime
    meta: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)

    def as_json(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "meta": self.meta,
            "figures": [f.as_json() for f in self.figures],
            "checks": self.checks,
            "met": [f.name for f in self.figures if f.verdict == "pass"],
            "missed": [f.name for f in self.figures if f.verdict == "MISS"],
        }


def _num(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.0f}/s" if unit == "events/s" else f"{value:,.2f} {unit}"


def table(report: Report) -> Table:
    t = Table(
        title=f"Peerline bench: {report.meta['events']:,} events, {report.started:%Y-%m-%d %H:%M:%SZ}",
        box=box.SIMPLE_HEAD,
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("measure", "left"),
        ("value", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "right"),
        ("", "left"),
    )
    for col, justify in columns:
        t.add_column(col, justify=justify, no_wrap=col != "measure")
    for f in report.figures:
        verdict = {"pass": "[green]pass[/]", "MISS": "[bold red]MISS[/]"}.get(f.verdict, "")
        baseline = f"{f.baseline_name} {_num(f.baseline, f.unit)}" if f.baseline is not None else "—"
        t.add_row(
            f.name,
            _num(f.value, f.unit),
            baseline,
            "—" if f.ratio is None else f"{f.ratio:.2f}",
            "—" if f.target is None else f"{'≤' if f.at_most else '≥'} {f.target:.2f}",
            verdict,
        )
    t.caption = (
        "ref = /work/shared/MEASURED.md; A, B = this run's raw baselines; "
        "service rows: raw measured by that stage on its own server"
    )
    return t


def show(console: Console, report: Report) -> None:
    console.print(table(report))
    for f in report.figures:
        if f.note:
            console.print(f"[dim]{f.name}: {f.note}[/]")
    spans = report.meta.get("spans_exported")
    if spans:
        by_service = ", ".join(f"{k} {v:,}" for k, v in spans.items() if k != "exports")
        console.print(f"tracing on: spans exported over OTLP/HTTP by the services: {by_service or 'none'}")
    drops = report.meta.get("client_drops_by_stage")
    if drops:
        console.print(f"[bold red]messages dropped client-side, by stage: {drops}[/]")
    judged = [f for f in report.figures if f.verdict]
    missed = [f.name for f in judged if f.verdict == "MISS"]
    console.print(f"ratios: {len(judged) - len(missed)}/{len(judged)} targets met")
    for name in missed:
        console.print(f"[bold red]target missed: {name}[/]")
    failed = [key for key, ok in report.checks.items() if ok is not True]
    console.print(f"checks: {len(report.checks) - len(failed)}/{len(report.checks)} passed")
    for key in failed:
        console.print(f"[bold red]check failed: {key}[/]")
    load = report.meta.get("loadavg_1m_before", 0.0), report.meta.get("loadavg_1m_after", 0.0)
    if max(load) > 0.5 * (report.meta.get("cpus") or 1):
        console.print(
            f"[yellow]the machine was busy (1-minute load {load[0]:.1f} → {load[1]:.1f}): "
            "figures are noisy[/]"
        )


def write(report: Report, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{report.started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return path
