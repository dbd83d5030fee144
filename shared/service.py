"""Running a service process: its projection runners, its broker, its HTTP servers, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import busclient
from shared.settings import ServiceSettings
from shared.telemetry import http_telemetry

log = logging.getLogger("peerline.service")

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def ops_app(service: str, ready: Callable[[], bool]) -> FastAPI:
    """The ops port: /livez, /readyz (and /healthz, its older name) and /metrics.

    /livez answers while the process's event loop runs, and asks nothing else: an unreachable NATS or
    database must not get the process restarted (it reconnects by itself). /readyz is `ready()`: the
    service is connected to the bus and caught up, so it may take traffic (and readiness gates rollouts)."""
    app = FastAPI(
        title=f"peerline-{service} ops",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=http_telemetry(traced=False),  # probes and scrapes, every few seconds: no trace to follow
    )

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"service": service, "status": "alive"}

    @app.get("/readyz")
    @app.get("/healthz")
    def readyz(response: Response) -> dict[str, str]:
        ok = ready()
        response.status_code = 200 if ok else 503
        return {"service": service, "status": "ok" if ok else "not ready"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: the process's stop event governs every server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_task(app: FastAPI, host: str, port: int) -> Task:
    async def serve(stop: asyncio.Event) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        server = _Server(config)
        serving = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await serving

    return serve


def settle_heap() -> None:
    """What startup built (modules, tables, the app) lives as long as the process: collect startup's
    garbage once, then keep the rest out of every later full collection. Otherwise the first full
    collections walk ~100k startup objects and stall the event loop for tens of milliseconds."""
    gc.collect()
    gc.freeze()


async def run_until_stopped(
    tasks: Sequence[Task], stop: asyncio.Event | None, switch_interval_s: float
) -> None:
    """Run every task; SIGINT/SIGTERM (or `stop`) ends them all. One task failing stops the process.
    `switch_interval_s`: the GIL's switch interval (`ServiceSettings.switch_interval_s`)."""
    settle_heap()
    sys.setswitchinterval(switch_interval_s)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    running = [asyncio.create_task(t(stop)) for t in tasks]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*running, stopper], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    failed = [t for t in done if t is not stopper and t.exception() is not None]
    await asyncio.wait(running, timeout=10)
    for t in running:
        t.cancel()
    if failed:
        raise failed[0].exception()  # type: ignore[misc]


async def keep_stepping(name: str, step: Callable[[], Coroutine[Any, Any, int]], stop: asyncio.Event) -> None:
    """A consumer's loop: take one batch at a time until `stop`; a failed batch is logged and retried."""
    while not stop.is_set():
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: batch failed; retrying", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def connect_nats(settings: ServiceSettings) -> Client:
    """The service's own bus identity, on a connection that keeps reconnecting: a NATS restart must not
    end the service."""
    return await busclient.connect(
        settings.nats_url,
        settings.bus_identity(),
        settings.nats_seed_file,
        settings.nats_ca_file,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )
