"""`shared.db.make_engine`: every SQLite connection it opens is set up the same way."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from shared.db import WAL_AUTOCHECKPOINT_PAGES, make_engine


def test_each_sqlite_connection_is_wal_synchronous_normal_with_a_40_mb_checkpoint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/view.db")
    try:
        for _ in range(2):  # a new connection each time: the pragmas are per connection
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
                assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_AUTOCHECKPOINT_PAGES
            engine.dispose()
    finally:
        engine.dispose()
    assert (tmp_path / "view.db").stat().st_mode & 0o777 == 0o600
