"""Bad input at every service's HTTP door: bounded bodies (413, chunked too), 422s that name the field
without echoing what was sent, text that is not Unicode (invalid UTF-8, lone surrogates) → 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.http.conftest import WRITES, Caller, Write

pytestmark = pytest.mark.unit
ids = [w.service for w in WRITES]


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_an_8_mb_body_is_refused_with_413_and_not_echoed(caller: Caller, write: Write) -> None:
    body = b'{"unit": "' + b"A" * (8 * 1024 * 1024) + b'"}'
    r = await caller.send(write, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.status_code
    assert len(r.content) < 200


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_a_chunked_body_over_the_limit_is_refused_before_it_is_parsed(
    caller: Caller, write: Write
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"unit": "'
        for _ in range(100):
            yield b"B" * 10_000
        yield b'"}'

    r = await caller.send(write, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.status_code


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_a_422_names_the_field_but_never_echoes_the_value(caller: Caller, write: Write) -> None:
    secret = "Jane Q Public 555-0100 " * 20
    r = await caller.send(write, json={"activation": secret, "discipline": secret, "mode": secret})
    assert r.status_code == 422, r.text
    assert "Jane Q Public" not in r.text
    locs = [tuple(e["loc"]) for e in r.json()["detail"]]
    assert locs and all(loc[0] == "body" for loc in locs)


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_a_lone_surrogate_is_a_4xx_naming_the_body(caller: Caller, write: Write) -> None:
    for body in (b'{"unit": "\\ud800"}', b'{"unit": "x\\udfff", "discipline": "fire"}', b'{"\\udbff": 1}'):
        r = await caller.send(write, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code)
        assert r.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_invalid_utf8_is_a_4xx(caller: Caller, write: Write) -> None:
    for body in (b'{"unit": "\xff\xfe"}', b'{"unit": "\xed\xa0\x80"}'):
        r = await caller.send(write, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code)


@pytest.mark.parametrize("write", WRITES, ids=ids)
async def test_a_surrogate_pair_is_ordinary_text(caller: Caller, write: Write) -> None:
    """An emoji written as an escaped pair is valid JSON: it fails only as a bad field, never as text."""
    r = await caller.send(
        write, content=b'{"activation": "\\ud83d\\ude00"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert all(e["loc"] != ["body"] for e in r.json()["detail"])
