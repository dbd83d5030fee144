"""Tokens at every service's door: a bounded lifetime, the claims that name someone, a 401 that does not
describe the library's exceptions, and a rate limit keyed on who a valid token names (a new garbage token
per request is the same client: its address)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from shared.auth import generate_dev_keys
from tests.http.conftest import AGENCY, WRITES, Caller, Write, build_apps

pytestmark = pytest.mark.unit
ids = [w.service for w in WRITES]


def signed(key: bytes, **claims: object) -> str:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "u-1",
        "role": "coordinator",
        "agency": AGENCY,
        "iss": "peerline-dev",
        "aud": "peerline",
        "iat": now,
        "exp": now + 3600,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm="EdDSA")


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_long_lived_or_incomplete_tokens_are_refused_without_naming_exceptions(
    caller: Caller, write: Write
) -> None:
    now = int(time.time())
    bad = {
        "100 years": signed(caller.key, role=write.role, sub=write.sub, exp=now + 100 * 365 * 86400),
        "no iat": signed(caller.key, role=write.role, sub=write.sub, iat=None),
        "empty sub": signed(caller.key, role=write.role, sub=""),
        "iat in the future": signed(caller.key, role=write.role, sub=write.sub, iat=now + 3600),
        "agency not an id": signed(caller.key, role=write.role, sub=write.sub, agency="../x y"),
    }
    for what, token in bad.items():
        r = await caller.send(write, token=token, json={})
        assert r.status_code == 401, (what, r.status_code, r.text)
        assert "Error" not in r.text and "Exception" not in r.text, (what, r.text)
    r = await caller.send(write, token="not-a-jwt", json={})
    assert r.status_code == 401 and "Error" not in r.text


async def test_a_token_minted_for_the_day_is_accepted(caller: Caller) -> None:
    r = await caller.send(WRITES[1], token=caller.token("coordinator", ttl_s=24 * 3600), json={})
    assert r.status_code == 422  # past the door: the empty body is what is wrong


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[Caller]:
    private, public = generate_dev_keys(tmp_path / "keys")
    c = Caller(build_apps(tmp_path / "var", public, rate_burst=3, rate_per_minute=1), private.read_bytes())
    yield c
    await c.close()


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_a_fresh_garbage_token_per_request_does_not_dodge_the_rate_limit(
    strict: Caller, write: Write
) -> None:
    codes = [(await strict.send(write, token=f"garbage-{i}", json={})).status_code for i in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429], codes


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_each_verified_principal_has_its_own_bucket(strict: Caller, write: Write) -> None:
    mine = strict.token(write.role, write.sub)
    codes = [(await strict.send(write, token=mine, json=[])).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429], codes
    other = strict.token(write.role, write.sub, agency="riverton-police")
    assert (await strict.send(write, token=other, json=[])).status_code != 429
