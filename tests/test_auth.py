"""Bearer tokens: the verifier and its settings (the route × role walk: tests/intake/test_routes_auth.py)."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from shared.auth import Auth, Verifier, generate_dev_keys, mint

A = "riverton-fire"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    private, public = generate_dev_keys(tmp_path_factory.mktemp("keys"))
    return private.read_bytes(), public


@pytest.mark.unit
def test_verifier_rejects_expired_foreign_and_tampered_tokens(
    keys: tuple[bytes, Path], tmp_path: Path
) -> None:
    verifier = Verifier(issuer="peerline-dev", audience="peerline", public_key_pem=keys[1].read_bytes())
    good = mint(keys[0], role="peer", agency=A, sub="u-1")
    assert verifier(good).role == "peer" and verifier(good).agency == A
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier(mint(keys[0], role="peer", agency=A, ttl_s=-10))
    with pytest.raises(jwt.InvalidIssuerError):
        verifier(mint(keys[0], role="peer", agency=A, issuer="elsewhere"))
    other_private, _ = generate_dev_keys(tmp_path / "other")
    with pytest.raises(jwt.InvalidSignatureError):
        verifier(mint(other_private.read_bytes(), role="peer", agency=A))
    forged_role = jwt.encode(
        {
            "sub": "u",
            "role": "commander",
            "agency": A,
            "iss": "peerline-dev",
            "aud": "peerline",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        keys[0],
        algorithm="EdDSA",
    )
    with pytest.raises(ValueError):
        verifier(forged_role)


@pytest.mark.unit
def test_auth_needs_a_key_or_jwks() -> None:
    with pytest.raises(ValueError):
        Auth.from_settings(None, None, "i", "a")
