"""The leader's dashboards: tracking's suppressed reports for their agency, each a chart drawn on the
server with its table below and a CSV of exactly that table. Suppression is tracking's (it happens
before anything reaches the console); nothing here links to a case, a person or a single week.

A regional admin sees the same pages for any agency (`?agency=`); the regional roll-up is theirs
(`admin.py`). No view is by unit: a station's weekly counts are where a person is recognised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response

from services.console import charts, i18n
from services.console.backend import backend
from services.console.people import signed_in
from services.console.rendering import page
from services.console.security import session_of
from services.console.sessions import Session

router = APIRouter(prefix="/leader")
Reader = Annotated[Session, Depends(signed_in("leader", "regional_admin"))]
Name = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


@dataclass(frozen=True)
class Asked:
    """What a report page is asked for: a view (`?by=`), an agency (a regional admin's choice) and a
    quarter; each a plain name, else 422 naming the field."""

    by: str | None
    agency: str | None
    quarter: str | None

    def query(self, by: str) -> str:
        """Tracking's query for a report in this view and quarter."""
        return f"?by={by}" + (f"&quarter={self.quarter}" if self.quarter else "")

    def chooser(self) -> dict[str, Any]:
        """What a page's quarter chooser shows: the quarter asked for, and those to choose from."""
        return {"quarter": self.quarter, "quarters": quarters_now()}


def asked(by: Name | None = None, agency: Name | None = None, quarter: Name | None = None) -> Asked:
    return Asked(by, agency, quarter)


Ask = Annotated[Asked, Depends(asked)]


@dataclass(frozen=True)
class Dashboard:
    report: str
    by: str  # the default view
    title: str
    views: tuple[str, ...]  # the dimensions a leader may choose


DASHBOARDS = {
    d.report: d
    for d in (
        Dashboard("requests", "all", "Requests", ("all", "discipline", "activation")),
        Dashboard(
            "contacts",
            "category",
            "Contacts by category",
            ("category", "all", "discipline", "activation", "mode", "duration", "referral"),
        ),
        Dashboard("response_times", "bucket", "Time to first assignment", ("bucket",)),
        Dashboard("followups", "status", "Follow-up completion", ("status",)),
        Dashboard("debriefs", "outcome", "Debrief uptake", ("outcome",)),
        Dashboard("incidents", "all", "Critical incidents", ("all",)),
    )
}


def scope_of(me: Session, agency: str | None) -> str:
    """A leader reads their own agency only; a regional admin names one (default: their own)."""
    if agency and agency != me.agency and me.role != "regional_admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside your agency")
    return agency or str(me.agency)


async def fetch(request: Request, me: Session, path: str) -> dict[str, Any]:
    """One of tracking's reports (suppressed there)."""
    found: dict[str, Any] = await backend(request).call("tracking", "GET", path, me)
    return found


def view(request: Request, d: Dashboard, report: dict[str, Any]) -> dict[str, Any]:
    """What a template needs: the table, the chart over rows (weeks or agencies) and, for a dimension
    with values, the chart over those values (the column totals)."""
    words = words_of(request)
    table = charts.table(report, words)
    threshold = report["suppression"]["threshold"]
    hidden = words("fewer than {n}").format(n=threshold)
    over_rows = charts.chart(
        words("Total per {row}").format(row=words(report["rows"])),
        report["row_labels"],
        report["row_totals"],
        threshold,
        hidden,
    )
    by_value = None
    if report["by"] != "all":
        by_value = charts.chart(
            words("Total per {by} this quarter").format(by=words(report["by"])),
            [words(c) for c in report["columns"]],
            report["column_totals"],
            threshold,
            hidden,
        )
    return {
        "dashboard": d,
        "report": report,
        "table": table,
        "charts": [c for c in (over_rows, by_value) if c],
    }


def known(report: str, by: str | None) -> tuple[Dashboard, str]:
    d = DASHBOARDS.get(report)
    if d is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report")
    by = by or d.by
    if by not in d.views:
        raise HTTPException(422, f"invalid: by (for {report}: {', '.join(d.views)})")
    return d, by


@router.get("")
async def dashboards(request: Request, me: Reader, q: Ask) -> Response:
    where = scope_of(me, q.agency)
    shown = []
    for d in DASHBOARDS.values():
        report = await fetch(request, me, f"/v1/agencies/{where}/reports/{d.report}{q.query(d.by)}")
        shown.append(view(request, d, report))
    return page(request, "leader/dashboards.html", shown=shown, agency=where, **q.chooser())


@router.get("/reports/{report}")
async def one(request: Request, report: str, me: Reader, q: Ask) -> Response:
    d, by = known(report, q.by)
    where = scope_of(me, q.agency)
    found = await fetch(request, me, f"/v1/agencies/{where}/reports/{report}{q.query(by)}")
    return page(request, "leader/report.html", **view(request, d, found), by=by, agency=where, **q.chooser())


@router.get("/reports/{report}/csv")
async def one_csv(request: Request, report: str, me: Reader, q: Ask) -> Response:
    _, by = known(report, q.by)
    where = scope_of(me, q.agency)
    found = await fetch(request, me, f"/v1/agencies/{where}/reports/{report}{q.query(by)}")
    return csv_response(charts.table(found, words_of(request)).csv(), f"{where}-{report}-{by}")


def csv_response(text: str, name: str) -> Response:
    disposition = f'attachment; filename="{name}.csv"'
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


def words_of(request: Request) -> Callable[[str], str]:
    """The person's language, for the words a table or CSV holds."""
    lang = i18n.choose(session_of(request).lang, request.headers.get("accept-language", ""))
    found: Callable[[str], str] = request.app.state.translations[lang].gettext
    return found


def quarters_now() -> list[str]:
    return charts.quarters(datetime.now(UTC).date())
