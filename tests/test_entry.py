"""`python -m services.<name> <command>` (shared/entry.py): a command the service does not have prints the
usage and exits non-zero, with nothing started — no database, no keys, no bus connection, no port.

Run as `python -m` runs it (the package's `__main__` as the main module), in this process: a service
that started anyway would connect to the test bus and keep running instead of exiting.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from shared.runtime import HTTP_PORTS, service_env
from tests.support.bus import seeds


@pytest.mark.parametrize("name", list(HTTP_PORTS))
def test_a_mistyped_command_prints_the_usage_and_starts_nothing(
    name: str, tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    env = service_env(name, nats_url=nats_url, var_dir=var, public_key=tmp_path, seeds=seeds(nats_url))
    for key, value in {**env, "PEERLINE_HTTP_PORT": "0", "PEERLINE_METRICS_PORT": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.argv", [f"services/{name}/__main__.py", "nosuch"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module(f"services.{name}", run_name="__main__", alter_sys=True)
    assert str(exited.value.code).startswith(f"usage: python -m services.{name}")  # status 1, on stderr
    assert not var.exists()  # no database, no keys: nothing was set up
