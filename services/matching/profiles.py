"""What a peer publishes of themselves to the members they accept: a chosen display name and WORK
channels (phone, text). Personal data, so never in the log: each profile is sealed with AES-GCM under
matching's profile key (`PEERLINE_PROFILE_KEY_FILE`, base64 of 32 bytes; unset, a development key is made
under <var_dir>/keys), bound to the peer's ref, in matching's own database but outside the rebuildable
view (a replay does not drop it). Deleting a profile deletes its row.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, delete, insert, select

from services.matching.tables import profile_metadata, profiles

log = logging.getLogger("peerline.matching")
NONCE = 12
PHONE = r"^\+?[0-9 ().-]{5,32}$"


class Profile(BaseModel):
    """The peer's own choice; every field optional (no channel: the member leaves a callback instead)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=PHONE, description="work phone for calls")
    text: str | None = Field(default=None, pattern=PHONE, description="work number for text messages")


def profile_key(path: Path | None, var_dir: Path) -> bytes:
    """The configured key, or a development key under <var_dir>/keys made once."""
    if path is None:
        path = var_dir / "keys" / "matching-profile-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
            path.chmod(0o600)
            log.warning("generated a development profile key at %s", path)
    key = base64.b64decode(path.read_text().strip(), validate=True)
    if len(key) != 32:
        raise ValueError(f"{path}: the profile key is base64 of exactly 32 bytes (got {len(key)})")
    return key


class Profiles:
    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine, self._aead = engine, AESGCM(key)
        profile_metadata.create_all(engine)

    def put(self, agency: str, peer_ref: str, profile: Profile) -> None:
        nonce = os.urandom(NONCE)
        sealed = nonce + self._aead.encrypt(nonce, profile.model_dump_json().encode(), peer_ref.encode())
        with self.engine.begin() as conn:
            conn.execute(delete(profiles).where(profiles.c.peer_ref == peer_ref))
            conn.execute(insert(profiles).values(peer_ref=peer_ref, agency=agency, sealed=sealed))

    def get(self, agency: str, peer_ref: str) -> Profile | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(profiles.c.sealed).where(profiles.c.peer_ref == peer_ref, profiles.c.agency == agency)
            ).first()
        if row is None:
            return None
        sealed = bytes(row.sealed)
        plain = self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], peer_ref.encode())
        return Profile.model_validate(json.loads(plain))
