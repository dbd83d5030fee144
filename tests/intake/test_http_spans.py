"""What an HTTP request leaves in the traces: one server span, the root of the trace its events carry,
and none of FastAPI's per-request operation spans (`shared.telemetry.http_telemetry`)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.envelope import STREAM
from shared.service import ops_app
from tests.support.bus import messages

from .conftest import World

pytestmark = pytest.mark.integration
A = "riverton-fire"


async def test_a_request_makes_one_server_span_whose_trace_its_event_carries(
    world: World, spans: InMemorySpanExporter
) -> None:
    r = await world.client.post(
        "/v1/requests", json={"agency": A, "activation": "self"}, headers=world.auth("member", A)
    )
    assert r.status_code == 201, r.text
    mine = spans.get_finished_spans()
    servers = [s for s in mine if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["POST /v1/requests"]
    assert [s.name for s in mine if s.name.startswith("fastapi.")] == []
    server = servers[0]
    assert server.attributes is not None and server.attributes["http.route"] == "/v1/requests"
    case = r.json()["case_id"]
    stored = [m for m in await messages(world.js, STREAM) if m.subject.endswith(f".{case}.support_requested")]
    assert len(stored) == 1 and stored[0].headers is not None
    trace_id = stored[0].headers["traceparent"].split("-")[1]
    assert trace_id == f"{server.context.trace_id:032x}", "the event continues the request's trace"


async def test_probes_and_scrapes_of_the_ops_port_make_no_span(spans: InMemorySpanExporter) -> None:
    app = ops_app("intake", lambda: True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops") as client:
        for path in ("/livez", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200
    assert spans.get_finished_spans() == ()
