"""A throwaway PostgreSQL 15 server for tests (the machine's initdb/pg_ctl, run as the postgres user)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from shared.natsserver import free_port


def _as_postgres(args: list[str]) -> list[str]:
    return args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a SQLAlchemy URL (psycopg) of a fresh database; raises if PostgreSQL is not installed."""
    initdb = shutil.which("initdb")
    pg_ctl = shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH")
    base = tempfile.mkdtemp(prefix="peerline-pg-")
    os.chmod(base, 0o777)  # noqa: S103 - the postgres user writes here; a private temp dir
    data = os.path.join(base, "data")
    port = free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", data, "-U", "peerline", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres([pg_ctl, "-D", data, "-o", opts, "-l", os.path.join(base, "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://peerline@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server_url: str, prefix: str = "t") -> str:
    """Create an empty database on the session's server; returns its URL."""
    from uuid import uuid4

    from shared.db import make_engine

    name = prefix + uuid4().hex[:12]
    admin = make_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name
