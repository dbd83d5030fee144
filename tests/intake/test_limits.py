"""The HTTP guards: body size (413) and per-client rate (429), through a real ASGI stack."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from services.intake.limits import Limits, RateLimiter

pytestmark = pytest.mark.unit


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def app(limiter: RateLimiter, max_body: int = 100) -> FastAPI:
    api = FastAPI()
    api.add_middleware(Limits, max_body=max_body, limiter=limiter)

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
