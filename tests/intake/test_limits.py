"""The HTTP guards — body size (413), per-client rate (429) — through a real ASGI stack; agency policies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from services.intake.api.inflight import InFlight
from services.intake.domain.policy import Policies
from services.intake.main import Intake
from services.intake.settings import IntakeSettings
from shared.auth import generate_dev_keys, mint
from shared.eventstore import Append
from shared.limits import Limits, RateLimiter, Receive, Scope, Send
from tests.support.bus import connect

pytestmark = pytest.mark.unit


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def app(limiter: RateLimiter, max_body: int = 100) -> FastAPI:
    api = FastAPI()
    api.add_middleware(Limits, max_body=max_body, limiter=limiter, identify={"a": "A", "b": "B"}.get)

    @api.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api


async def test_a_body_over_the_limit_is_refused_with_413_even_when_chunked() -> None:
    transport = httpx.ASGITransport(app=app(RateLimiter(600, 100)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.post("/echo", content=b"x" * 100)).json() == {"size": 100}
        assert (await c.post("/echo", content=b"x" * 101)).status_code == 413

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(5):
                yield b"y" * 30

        r = await c.post("/echo", content=chunks())
        assert r.status_code == 413


async def test_each_client_gets_its_own_bucket_and_429_names_when_to_retry() -> None:
    ticks = Ticks()
    transport = httpx.ASGITransport(app=app(RateLimiter(60, 3, clock=ticks)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        mine = {"Authorization": "Bearer a"}
        codes = [(await c.post("/echo", headers=mine)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await c.post("/echo", headers=mine)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert (await c.post("/echo", headers={"Authorization": "Bearer b"})).status_code == 200
        assert (await c.get("/healthz", headers=mine)).status_code == 200  # health is never limited
        ticks.t += 1.0  # one token back per second at 60/min
        assert (await c.post("/echo", headers=mine)).status_code == 200


async def test_intake_applies_its_configured_limits(tmp_path: Path) -> None:
    private, public = generate_dev_keys(tmp_path / "keys")
    (tmp_path / "kek").write_text(base64.b64encode(bytes(32)).decode())
    settings = IntakeSettings(
        var_dir=tmp_path,
        jwt_public_key_file=public,
        kek_file=tmp_path / "kek",
        rate_burst=2,
        rate_per_minute=1,  # no token comes back between these requests, however slow the machine
        max_body_bytes=500,
    )
    intake = Intake(settings)
    bearer = {"Authorization": "Bearer " + mint(private.read_bytes(), role="member", agency="riverton-fire")}
    transport = httpx.ASGITransport(app=intake.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        big = {"agency": "riverton-fire", "activation": "self", "discipline": "x" * 600}
        assert (await c.post("/v1/requests", json=big, headers=bearer)).status_code == 413
        assert (await c.get("/v1/agencies/riverton-fire/advisement", headers=bearer)).status_code == 200
        assert (await c.get("/v1/agencies/riverton-fire/advisement", headers=bearer)).status_code == 429


def test_agency_policies_load_from_a_file_with_a_default(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text(
        json.dumps(
            {
                "*": {"triggers": {"flags": ["line_of_duty_death"]}},
                "county-ems": {
                    "triggers": {"priority_at_most": 1},
                    "advisement": {"privilege": "Statute X."},
                },
            }
        )
    )
    policies = Policies.load(path)
    assert policies.of("county-ems").triggers.priority_at_most == 1
    assert policies.of("county-ems").advisement.privilege == "Statute X."
    assert policies.of("elsewhere").triggers.flags == ("line_of_duty_death",)
    assert Policies.load(None).of("any").triggers.priority_at_most is None
    path.write_text(json.dumps({"x": {"triggers": {"flags": ["bad_flag"]}}}))
    with pytest.raises(ValueError):
        Policies.load(path)


@pytest.mark.integration
async def test_a_request_the_log_cannot_take_is_answered_503_and_nothing_is_kept(
    tmp_path: Path, nats_url: str
) -> None:

    from shared.eventstore import EventStore

    private, public = generate_dev_keys(tmp_path / "keys")
    intake = Intake(IntakeSettings(var_dir=tmp_path, jwt_public_key_file=public))
    nc = await connect(nats_url)
    await nc.close()  # NATS gone (restarting, unreachable)
    intake._store = EventStore(nc.jetstream(), retries=1)
    bearer = {"Authorization": "Bearer " + mint(private.read_bytes(), role="member", agency="riverton-fire")}
    transport = httpx.ASGITransport(app=intake.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        r = await c.post(
            "/v1/requests", json={"agency": "riverton-fire", "activation": "self"}, headers=bearer
        )
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert "case_id" not in r.json()


class StalledLog:
    """An event log that holds every append until released: writes pile up in flight."""

    def __init__(self) -> None:
        import asyncio

        self.release = asyncio.Event()
        self.waiting = 0
        self.appended: list[object] = []

    async def append(self, envs: list[object], expected: int | None = None) -> int:
        self.waiting += 1
        await self.release.wait()
        self.appended.extend(envs)
        return len(self.appended)

    async def append_many(self, appends: list[Append]) -> list[int | Exception]:
        return [await self.append(list(a.envelopes), a.expected) for a in appends]


def in_flight(app: FastAPI) -> InFlight:
    """The app's write guard (its middleware stack is built on the first request)."""
    layer = app.middleware_stack
    while not isinstance(layer, InFlight):
        layer = layer.app  # type: ignore[union-attr]
    return layer


async def test_writes_beyond_the_in_flight_bound_are_shed_with_503_at_once(tmp_path: Path) -> None:
    import asyncio

    private, public = generate_dev_keys(tmp_path / "keys")
    (tmp_path / "kek").write_text(base64.b64encode(bytes(32)).decode())
    settings = IntakeSettings(
        var_dir=tmp_path, jwt_public_key_file=public, kek_file=tmp_path / "kek", max_inflight=3
    )
    intake = Intake(settings)
    log = StalledLog()
    intake._store = log  # type: ignore[assignment]
    bearer = {"Authorization": "Bearer " + mint(private.read_bytes(), role="member", agency="riverton-fire")}
    body = {"agency": "riverton-fire", "activation": "self"}
    transport = httpx.ASGITransport(app=intake.api)
    intake.api.middleware_stack = intake.api.build_middleware_stack()
    guard = in_flight(intake.api)
    inner, passed = guard.app, asyncio.Event()

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "POST" and guard.current == 3:
            passed.set()
        await inner(scope, receive, send)

    guard.app = counted
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
        held = [asyncio.create_task(c.post("/v1/requests", json=body, headers=bearer)) for _ in range(3)]
        await asyncio.wait_for(passed.wait(), 10)  # one write stalled, two gathered behind it
        # answered while 3 are stalled (a queued write would never return: the guard fails the test)
        shed = await asyncio.wait_for(c.post("/v1/requests", json=body, headers=bearer), 10)
        assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
        assert "case_id" not in shed.json()
        assert (await c.get("/v1/agencies/riverton-fire/advisement", headers=bearer)).status_code == 200
        log.release.set()
        assert [(await t).status_code for t in held] == [201, 201, 201]
        assert (await c.post("/v1/requests", json=body, headers=bearer)).status_code == 201  # room again
    assert log.waiting == 4


def test_the_in_flight_bound_must_allow_a_write() -> None:
    from services.intake.api.inflight import InFlight

    with pytest.raises(ValueError):
        InFlight(FastAPI(), limit=0)
