"""Data files are the owner's alone: every SQLite file (the vault's included, with its WAL) 0600, the
directory made for them 0700."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from services.intake.main import Intake
from services.intake.settings import IntakeSettings
from services.tracking.main import Tracking
from services.tracking.settings import TrackingSettings
from shared.auth import generate_dev_keys

pytestmark = pytest.mark.unit


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_and_their_directory_are_private(tmp_path: Path) -> None:
    _, public = generate_dev_keys(tmp_path / "keys")
    var = tmp_path / "var"
    intake = Intake(IntakeSettings(var_dir=var, jwt_public_key_file=public))
    tracking = Tracking(TrackingSettings(var_dir=var, jwt_public_key_file=public))
    for engine in (intake.engine, intake.vault.engine, tracking.engine):
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
    files = sorted(p for p in var.iterdir() if ".db" in p.name)
    assert {p.name for p in files} >= {"intake.db", "intake-vault.db", "tracking.db", "intake-vault.db-wal"}
    assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}
    assert mode(var) == 0o700
