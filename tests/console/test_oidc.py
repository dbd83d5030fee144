"""Single sign-on: authorization code + PKCE (S256) against an identity provider found by its issuer URL.
The provider here is a small in-memory one speaking the two endpoints the flow uses."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.console.main import create_app
from services.console.sessions import COOKIE
from shared.auth import mint
from tests.console.support import console_settings

pytestmark = pytest.mark.unit
ISSUER = "https://idp.example.org/realms/riverton"


class Provider:
    """Discovery and a token endpoint that checks the PKCE verifier against the challenge it was given."""

    def __init__(self, private_key: bytes) -> None:
        self.private_key, self.challenge = private_key, ""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                },
            )
        if request.url.path.endswith("/token"):
            form = parse_qs(request.content.decode())
            verifier = form["code_verifier"][0]
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != self.challenge or form["code"] != ["the-code"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            token = mint(self.private_key, role="peer", agency="riverton-fire", sub="p-riverton-fire-02")
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": 300}
            )
        return httpx.Response(404)


@pytest.fixture
def oidc_client(tmp_path: Path) -> tuple[httpx.AsyncClient, Provider]:
    settings = console_settings(tmp_path).model_copy(
        update={"sign_in": "oidc", "oidc_issuer": ISSUER, "oidc_client_id": "peerline-console"}
    )
    provider = Provider((tmp_path / "keys" / "jwt-signing.pem").read_bytes())
    app = create_app(settings, transport=httpx.MockTransport(provider))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://testserver"), provider


async def test_sign_in_uses_the_authorization_code_with_pkce_and_checks_the_state(
    oidc_client: tuple[httpx.AsyncClient, Provider],
) -> None:
    client, provider = oidc_client
    start = await client.get("/signin")
    assert start.status_code == 303
    where = urlsplit(start.headers["location"])
    query = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert f"{where.scheme}://{where.netloc}{where.path}" == f"{ISSUER}/auth"
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["client_id"] == "peerline-console" and "openid" in query["scope"]
    provider.challenge = query["code_challenge"]

    forged = await client.get("/signin/callback", params={"code": "the-code", "state": "forged"})
    assert forged.status_code == 400

    again = await client.get("/signin")
    query = {k: v[0] for k, v in parse_qs(urlsplit(again.headers["location"]).query).items()}
    provider.challenge = query["code_challenge"]
    before = client.cookies[COOKIE]
    done = await client.get("/signin/callback", params={"code": "the-code", "state": query["state"]})
    assert done.status_code == 303 and done.headers["location"] == "/peer"
    assert client.cookies[COOKIE] != before
    assert "Sign out" in (await client.get("/resources")).text
    assert json.loads((await client.get("/healthz")).text) == {"status": "ok"}
