"""The leader's and admin's pages without services: who may open them, and the pure parts — a suppressed
report becomes a table whose hidden cells read "fewer than 11" (the CSV holds the same strings), a chart
that draws no value for a hidden cell, and the quarters a leader can choose."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
import pytest

from services.console import charts
from tests.console.support import sign_in

pytestmark = pytest.mark.unit
REPORT: dict[str, Any] = {
    "report": "followups",
    "by": "status",
    "rows": "week",
    "suppression": {"threshold": 11, "marker": None},
    "row_labels": ["2026-W01", "2026-W02"],
    "columns": ["completed", "open"],
    "cells": [[None, None], [30, 12]],
    "row_totals": [None, 42],
    "column_totals": [None, None],
    "total": None,
    "rates": {"completion_rate": [None, 0.7143]},
}


def same(word: str) -> str:
    return word


def test_a_hidden_cell_reads_fewer_than_the_threshold_in_the_table_and_its_csv() -> None:
    table = charts.table(REPORT, same)
    assert table.header == ["week", "completed", "open", "total", "completion_rate"]
    assert table.rows[0] == ["2026-W01", "fewer than 11", "fewer than 11", "fewer than 11", "not shown"]
    assert table.rows[1] == ["2026-W02", "30", "12", "42", "71%"]
    assert table.footer == ["total", "fewer than 11", "fewer than 11", "fewer than 11", ""]
    assert list(csv.reader(io.StringIO(table.csv()))) == [table.header, *table.rows, table.footer]


def test_a_chart_draws_a_hidden_count_as_an_outline_at_the_threshold_never_its_value() -> None:
    chart = charts.chart("t", REPORT["row_labels"], REPORT["row_totals"], 11, "fewer than 11")
    hidden, shown = chart.bars
    assert hidden.hidden and hidden.shown == "fewer than 11" and not shown.hidden
    assert chart.top == 42 and shown.height > hidden.height > 0
    assert round(hidden.height / shown.height, 2) == round(11 / 42, 2)
    empty = charts.chart("t", ["a"], [0], 11, "fewer than 11")
    assert empty.top == 11 and empty.bars[0].height == 0


def test_the_quarters_to_choose_are_this_one_and_the_three_before() -> None:
    assert charts.quarters(date(2026, 12, 7)) == ["2026-Q4", "2026-Q3", "2026-Q2", "2026-Q1"]
    assert charts.quarters(date(2026, 1, 20)) == ["2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2"]


async def test_trends_and_admin_pages_are_for_their_roles_only(client: httpx.AsyncClient) -> None:
    for path in ("/leader", "/leader/reports/requests", "/admin", "/admin/rollup"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/signin", path
    await sign_in(client, "member", "riverton-fire", "m-demo-riverton-fire")
    for path in ("/leader", "/admin"):
        assert (await client.get(path)).status_code == 403, path


async def test_a_leader_reads_only_their_own_agency_and_no_admin_page(client: httpx.AsyncClient) -> None:
    r = await sign_in(client, "leader", "riverton-fire", "l-demo-riverton-fire")
    assert r.status_code == 303 and r.headers["location"] == "/leader"
    assert (await client.get("/leader?agency=riverton-police")).status_code == 403
    assert (await client.get("/leader/reports/requests?agency=riverton-police")).status_code == 403
    assert (await client.get("/leader/reports/members")).status_code == 404
    assert (await client.get("/leader/reports/requests?by=unit")).status_code == 422  # a station view
    for path in ("/leader", "/leader/reports/requests", "/leader/reports/requests/csv"):
        for field in ("by", "agency", "quarter"):  # every route reads its query the one way
            r = await client.get(f"{path}?{field}=Q3%3Cb%3E")
            assert r.status_code == 422 and f"invalid: {field}" in r.text and "Q3<b>" not in r.text, path
    for path in ("/admin", "/admin/agencies/riverton-fire", "/admin/rollup", "/admin/rollup/requests/csv"):
        assert (await client.get(path)).status_code == 403, path


async def test_two_regional_admins_can_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/signin")
    assert 'data-person="ra-demo-1"' in page.text and 'data-person="ra-demo-2"' in page.text
    r = await sign_in(client, "regional_admin", "region", "ra-demo-2")
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    for path, field in (("/admin/rollup", "quarter"), ("/admin/rollup/requests/csv", "by")):
        r = await client.get(f"{path}?{field}=Q3%3Cb%3E")
        assert r.status_code == 422 and f"invalid: {field}" in r.text and "Q3<b>" not in r.text, path
