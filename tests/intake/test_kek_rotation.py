"""Rotating the vault's key-encryption key (KEK) as the deployments do it: the new KEK becomes current,
the old one sits in the rotation slot (PEERLINE_PREVIOUS_KEK_FILES), `rotate-kek` rewraps, and the slot
can then be emptied. An empty slot (its file absent) is no key and no error."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.intake.settings import IntakeSettings
from services.intake.vault import Vault, vault_engine
from services.intake.vault.keys import KeyUnavailable

IDENTITY = {"name": "Ana Ortiz", "phone": "+1 555 0100"}


def kek(path: Path) -> Path:
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def vault(tmp: Path, current: Path, *previous: Path) -> Vault:
    settings = IntakeSettings(var_dir=tmp, kek_file=current, previous_kek_files=list(previous))
    return Vault(vault_engine(f"sqlite:///{tmp}/vault.db"), settings.keyring())


def test_identities_sealed_under_the_old_kek_open_after_rotation(tmp_path: Path) -> None:
    old, new, slot = kek(tmp_path / "old"), kek(tmp_path / "new"), tmp_path / "previous"
    registered = vault(tmp_path, old).register("riverton-fire", "m-1", IDENTITY, None)
    with pytest.raises(KeyUnavailable):  # the new KEK alone cannot open what the old one wrapped
        vault(tmp_path, new, slot).open("m-1", registered)
    slot.write_bytes(old.read_bytes())  # the rotation slot is filled (Secret peerline-kek-previous)
    assert vault(tmp_path, new, slot).open("m-1", registered) == IDENTITY
    env = {
        **os.environ,
        "PEERLINE_VAR_DIR": str(tmp_path),
        "PEERLINE_VAULT_DATABASE_URL": f"sqlite:///{tmp_path}/vault.db",
        "PEERLINE_KEK_FILE": str(new),
        "PEERLINE_PREVIOUS_KEK_FILES": json.dumps([str(slot)]),  # as the intake Deployment sets it
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.intake", "rotate-kek"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("1 keys rewrapped"), done.stderr
    slot.unlink()  # the rotation is over: the slot is emptied, the old KEK retired
    assert vault(tmp_path, new, slot).open("m-1", registered) == IDENTITY
    # an empty slot is no previous KEK at all, so intake does not go through the vault at each start
    assert IntakeSettings(var_dir=tmp_path, kek_file=new, previous_kek_files=[slot]).previous_kek_files == []
