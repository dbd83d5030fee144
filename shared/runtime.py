"""The embedded runtime behind `peerline up`: nats-server, bootstrap, seed, one process per service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def _services() -> tuple[str, ...]:
    """Every package under services/ with a composition root (main.py), in a stable order."""
    root = Path(__file__).resolve().parent.parent / "services"
    found = {p.parent.name for p in root.glob("*/main.py")}
    return tuple(sorted(found, key=lambda n: (n != "intake", n)))


SERVICES = _services()
HTTP_PORTS = {
    "console": 8080,
    "intake": 8081,
    "matching": 8082,
    "escalation": 8083,
    "tracking": 8084,
    "wellness": 8085,
    "notify": 8086,
}
METRICS_PORTS = {
    "console": 9100,
    "intake": 9101,
    "matching": 9102,
    "escalation": 9103,
    "tracking": 9104,
    "wellness": 9105,
    "notify": 9106,
}


@dataclass
class Child:
    name: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Supervisor:
    """Starts each service, restarts one that dies (with backoff), stops all on request."""

    children: list[Child] = field(default_factory=list)
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def start(self) -> None:
        for c in self.children:
            c.start()

    def watch_once(self) -> list[str]:
        """Restart any child that exited, after a backoff that grows while it keeps dying."""
        restarted = []
        for c in self.children:
            if c.proc is not None and c.proc.poll() is not None:
                code = c.proc.returncode
                if time.monotonic() - c.started_at > 60:
                    c.restarts = 0  # it had been running well: start over gently
                time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** min(c.restarts, 8)))
                c.restarts += 1
                c.start()
                restarted.append(f"{c.name} (exit {code}; see {c.log_path})")
        return restarted

    def stop(self) -> None:
        for c in reversed(self.children):
            c.stop()


def service_env(name: str, *, nats_url: str, var_dir: Path, public_key: Path, seeds: Path) -> dict[str, str]:
    """A service process's environment: its own bus identity (seed file under `seeds`), its ports."""
    env = dict(os.environ)
    env.update(
        {
            "PEERLINE_NATS_URL": nats_url,
            "PEERLINE_NATS_SEED_FILE": str(seeds / f"{name}.nk"),
            "PEERLINE_VAR_DIR": str(var_dir),
            "PEERLINE_JWT_PUBLIC_KEY_FILE": str(public_key),
            "PEERLINE_METRICS_PORT": str(METRICS_PORTS[name]),
            "PEERLINE_HTTP_PORT": str(HTTP_PORTS[name]),
            # The embedded stack is the demo region: escalation records its disclosure policies.
            "PEERLINE_SEED_DEMO_POLICIES": "true",
        }
    )
    return env
