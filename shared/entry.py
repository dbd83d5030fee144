"""The process entry every service's `main.py` ends with: `python -m services.<name> [command]`.

No command runs the service until SIGTERM. `replay` rebuilds the service's projections from the log
(offered only by a service that has some). Any other command the service declares runs and exits with
its status. Anything else prints the usage and exits non-zero, with nothing connected or started.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from shared.db import make_engine
from shared.projection import Projection
from shared.replay import rebuild_all
from shared.settings import ServiceSettings
from shared.telemetry import configure_logging, configure_telemetry
from shared.topology import Consumer

Serve = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
Command = Callable[[], int | None]
S = TypeVar("S", bound=ServiceSettings)


def usage(name: str, commands: Mapping[str, Command]) -> str:
    choices = f" [{' | '.join(commands)}]" if commands else "   (no commands)"
    return f"usage: python -m services.{name}{choices}"


def replay(settings: ServiceSettings, projections: list[tuple[Projection, Consumer]]) -> None:
    asyncio.run(rebuild_all(settings, make_engine(settings.db_url()), projections))


def run(
    name: str,
    settings: S,
    serve: Serve,
    projections: Callable[[S], list[tuple[Projection, Consumer]]],
    commands: Mapping[str, Command] | None = None,
    telemetry: bool = True,
) -> None:
    configure_logging(settings.log_level)
    known: dict[str, Command] = {}
    if projections(settings):
        known["replay"] = lambda: replay(settings, projections(settings))
    known.update(commands or {})
    words = " ".join(sys.argv[1:])
    if not words:
        if telemetry:
            configure_telemetry(name, settings.otlp_endpoint)
        asyncio.run(serve(asyncio.Event()))
        return
    if words not in known:
        sys.exit(usage(name, known))
    sys.exit(known[words]() or 0)
