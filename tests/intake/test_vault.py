"""The vault's store and cryptography on SQLite files and on PostgreSQL: seal, open, erase, rotate, roster."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.intake.vault import Vault, data_keys, vault_engine
from services.intake.vault.callbacks import callback_keys
from services.intake.vault.keys import Keyring, KeyUnavailable, dev_kek, open_sealed, read_kek
from tests.pg import fresh_database

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WHO = {"name": "Rosalind Achterberg", "phone": "+1 555 010 4477", "email": "r.achterberg@example.org"}


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/vault.db"
    return fresh_database(str(request.getfixturevalue("pg_url")), "vault")


def make(url: str, keyring: Keyring | None = None) -> Vault:
    return Vault(vault_engine(url), keyring or Keyring(os.urandom(32)))


def on_disk(engine: Engine, tmp_path: Path) -> bytes:
    """The SQLite files' bytes (PostgreSQL keeps its files elsewhere; its tests check the rows)."""
    engine.dispose()
    return b"".join(p.read_bytes() for p in tmp_path.glob("vault.db*"))


def test_identity_is_sealed_and_opens_only_with_the_vault(url: str) -> None:
    vault = make(url)
    event = vault.register("riverton-fire", "m-1", WHO, "fire")
    wire = event.model_dump_json()
    assert event.wrapped_key == "" and event.key_id == "m-1"
    for value in WHO.values():
        assert value not in wire
    assert vault.open("m-1", event) == WHO
    # a ciphertext moved to another member or field does not open
    with vault.engine.connect() as conn:
        row = conn.execute(data_keys.select()).first()
    assert row is not None
    key = vault.keyring.unwrap(row.wrapped, "m-1", row.kek_id)
    with pytest.raises(KeyUnavailable):
        open_sealed(key, "m-2", "name", event.sealed["name"])
    with pytest.raises(KeyUnavailable):
        open_sealed(key, "m-1", "email", event.sealed["name"])


def test_erasure_destroys_the_key_and_the_bytes(url: str, tmp_path: Path) -> None:
    vault = make(url)
    event = vault.register("riverton-fire", "m-1", WHO, None)
    vault.map_cad("riverton-fire", [("RFD-1", "m-1")])
    with vault.engine.connect() as conn:
        wrapped = conn.execute(data_keys.select()).first().wrapped  # type: ignore[union-attr]
    vault.erase("m-1", NOW)
    vault.erase("m-1", NOW)  # idempotent
    with pytest.raises(KeyUnavailable):
        vault.open("m-1", event)
    assert vault.agency_of("m-1") == ("riverton-fire", True)
    assert vault.lookup("riverton-fire", ["RFD-1"]) == {}
    with vault.engine.connect() as conn:
        assert conn.execute(data_keys.select()).all() == []
    assert wrapped not in on_disk(vault.engine, tmp_path)


def test_shredding_a_callback_destroys_its_key_and_the_bytes(url: str, tmp_path: Path) -> None:
    vault = make(url)
    vault.callbacks.leave("c-1", "riverton-fire", "phone", WHO["phone"])
    assert vault.callbacks.open("c-1") == ("phone", WHO["phone"])
    with vault.engine.connect() as conn:
        wrapped = conn.execute(callback_keys.select()).first().wrapped  # type: ignore[union-attr]
    vault.callbacks.shred("c-1", NOW)
    vault.callbacks.shred("c-1", NOW)  # idempotent
    with pytest.raises(KeyUnavailable):
        vault.callbacks.open("c-1")
    assert vault.callbacks.sealed("c-1") is not None  # what is left cannot be opened by anyone
    assert wrapped not in on_disk(vault.engine, tmp_path)
    assert WHO["phone"].encode() not in on_disk(vault.engine, tmp_path)


def test_kek_rotation_rewraps_in_the_vault_only(url: str) -> None:
    old, new = os.urandom(32), os.urandom(32)
    vault = make(url, Keyring(old))
    event = vault.register("county-ems", "m-7", WHO, None)
    vault.map_cad("county-ems", [("CEMS-1", "m-7")])
    vault.callbacks.leave("c-7", "county-ems", "text", WHO["phone"])
    rotating = make(url, Keyring(new, (old,)))
    assert rotating.rotate() == 3  # the member's key, the roster secret and a case's callback key
    assert rotating.rotate() == 0
    retired = make(url, Keyring(new))  # the old KEK is gone for good
    assert retired.open("m-7", event) == WHO  # the same event from the log still opens
    assert retired.lookup("county-ems", ["CEMS-1"]) == {"CEMS-1": "m-7"}
    assert retired.callbacks.open("c-7") == ("text", WHO["phone"])
    with pytest.raises(KeyUnavailable):
        make(url, Keyring(old)).open("m-7", event)


def test_roster_keeps_cad_ids_only_as_keyed_hashes(url: str, tmp_path: Path) -> None:
    vault = make(url)
    vault.map_cad("riverton-fire", [("RFD-4471", "m-1"), ("ECC-118", "m-2")])
    assert vault.lookup("riverton-fire", ["rfd-4471 ", "ECC-118", "RFD-0000"]) == {
        "rfd-4471 ": "m-1",
        "ECC-118": "m-2",
    }
    assert vault.lookup("riverton-police", ["RFD-4471"]) == {}
    assert b"RFD-4471" not in on_disk(vault.engine, tmp_path)


@pytest.mark.unit
def test_dev_kek_is_made_once_and_a_bad_kek_is_refused(tmp_path: Path) -> None:
    path = dev_kek(tmp_path / "keys")
    assert dev_kek(tmp_path / "keys") == path and len(read_kek(path)) == 32
    bad = tmp_path / "bad"
    bad.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="32 bytes"):
        read_kek(bad)
