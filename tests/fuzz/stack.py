"""Every service run by its own composition root in this process (NATS, projections, reactors, timers
and the vault's reveal), on a private nats-server and temp SQLite files; HTTP goes in through ASGI."""

from __future__ import annotations

import asyncio
import importlib
import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.auth import generate_dev_keys
from shared.consumers.intake import provision_streams
from shared.runtime import SERVICES
from shared.topology import provision
from tests.support.bus import connect, seed


def composition_roots() -> dict[str, tuple[Any, Any]]:
    """Every service the runtime starts: its composition root and the settings class it declares."""
    out = {}
    for name in SERVICES:
        if name == "console":  # a browser app of pages, not an OpenAPI service (tests/console)
            continue
        main = importlib.import_module(f"services.{name}.main")
        out[name] = (main.create_app, typing.get_type_hints(main.create_app)["settings"].__args__[0])
    return out


@dataclass
class Stack:
    apps: dict[str, FastAPI]
    private_key: bytes


@asynccontextmanager
async def running(nats_url: str, work: Path) -> AsyncIterator[Stack]:
    nc = await connect(nats_url)
    await provision(nc.jetstream())
    await provision_streams(nc.jetstream())
    await nc.close()
    private, public = generate_dev_keys(work / "keys")
    stop = asyncio.Event()
    services: dict[str, Any] = {}
    tasks: list[asyncio.Task[None]] = []
    for name, (service, settings) in composition_roots().items():
        values = {
            "nats_url": nats_url,
            "nats_seed_file": seed(nats_url, name),
            "var_dir": work / name,
            "http_port": 0,
            "metrics_port": 0,
            "jwt_public_key_file": public,
            "rate_per_minute": 10_000_000,
            "rate_burst": 1_000_000,
        }
        services[name] = service(settings(**values))
        tasks.append(asyncio.create_task(services[name].run(stop), name=name))
    for _ in range(800):
        if all(getattr(s, "ready", True) for s in services.values()) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.025)
    for task in tasks:
        if task.done():
            task.result()
    try:
        yield Stack({name: s.api for name, s in services.items()}, private.read_bytes())
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
