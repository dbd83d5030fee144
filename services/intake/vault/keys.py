"""The vault's cryptography: the key-encryption key (KEK), data-key wrapping, and sealing identity fields.

Each member gets a random 256-bit data key. Identity fields are sealed with AES-GCM under it, the
associated data binding each ciphertext to its member and field (a ciphertext moved to another member
or field does not open). The data key is stored only in the vault's own table, wrapped (AES-GCM) by
the KEK; the KEK comes from a file holding base64 of 32 bytes (`PEERLINE_KEK_FILE`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.intake import SealedField
from shared.files import private_dir

log = logging.getLogger("peerline.intake.keys")
NONCE_BYTES = 12


class KeyUnavailable(Exception):
    """The key needed to open this is gone (erased) or unknown."""


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kek_id(kek: bytes) -> str:
    """A public fingerprint naming a KEK (a hash, not the key)."""
    return "k-" + hashlib.sha256(b"peerline-kek-id/" + kek).hexdigest()[:16]


def read_kek(path: Path) -> bytes:
    kek = base64.b64decode(path.read_text().strip(), validate=True)
    if len(kek) != 32:
        raise ValueError(f"{path}: a KEK is base64 of exactly 32 bytes (got {len(kek)})")
    return kek


def dev_kek(directory: Path) -> Path:
    """A development KEK under var/keys, made once (like the dev JWT keys). Production mounts its own."""
    private_dir(directory)
    path = directory / "kek"
    if not path.exists():
        path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        path.chmod(0o600)
        log.warning("generated a development key-encryption key at %s", path)
    return path


@dataclass(frozen=True)
class Keyring:
    """The current KEK (wraps new keys) and earlier ones (still unwrap until rotated away)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return kek_id(self.current)

    def kek(self, wanted_id: str) -> bytes:
        for k in (self.current, *self.previous):
            if kek_id(k) == wanted_id:
                return k
        raise KeyUnavailable(f"no configured KEK has id {wanted_id}")

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.current).encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, key_id: str, under: str) -> bytes:
        try:
            return AESGCM(self.kek(under)).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode()
            )
        except InvalidTag as exc:
            raise KeyUnavailable("wrapped key does not open under that KEK") from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(member_ref: str, field: str) -> bytes:
    return f"peerline/member/{member_ref}/{field}".encode()


def seal(data_key: bytes, member_ref: str, field: str, value: str) -> SealedField:
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(data_key).encrypt(nonce, value.encode(), _aad(member_ref, field))
    return SealedField(nonce=b64e(nonce), ciphertext=b64e(ct))


def open_sealed(data_key: bytes, member_ref: str, field: str, sealed: SealedField) -> str:
    try:
        raw = AESGCM(data_key).decrypt(b64d(sealed.nonce), b64d(sealed.ciphertext), _aad(member_ref, field))
    except InvalidTag as exc:
        raise KeyUnavailable(f"{field} does not open with this key") from exc
    return raw.decode()
