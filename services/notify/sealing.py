"""Contact points are personal data: each is sealed with AES-GCM under notify's key before it is stored,
bound to its row (the contact id is the associated data), and opened only to send a message.

The key is base64 of 32 bytes from a file (`PEERLINE_NOTIFY_KEY_FILE`); unset, a development key is made
under <var_dir>/keys. Deleting a contact point deletes its row; losing the key makes every sealed row
unreadable.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("peerline.notify")
NONCE = 12


def read_key(path: Path) -> bytes:
    key = base64.b64decode(path.read_text().strip(), validate=True)
    if len(key) != 32:
        raise ValueError(f"{path}: notify's key is base64 of exactly 32 bytes (got {len(key)})")
    return key


def dev_key(directory: Path) -> Path:
    """A development key under var/keys, made once. Production mounts its own."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "notify-key"
    if not path.exists():
        path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        path.chmod(0o600)
        log.warning("generated a development contact-point key at %s", path)
    return path


class Unreadable(Exception):
    """A sealed contact point does not open under the configured key."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, contact_id: str, value: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, json.dumps(value).encode(), contact_id.encode())

    def open(self, contact_id: str, sealed: bytes) -> dict[str, Any]:
        try:
            plain = self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], contact_id.encode())
        except InvalidTag as exc:
            raise Unreadable(contact_id) from exc
        value: dict[str, Any] = json.loads(plain)
        return value
