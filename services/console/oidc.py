"""Single sign-on with the agency's OpenID Connect provider: authorization code + PKCE (S256), found from
the issuer URL's discovery document. The access token the provider issues is what the services verify
(their JWKS setting points at the same provider); the console only reads its role and agency claims to
choose which pages to show."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from services.console.sessions import Session
from services.console.settings import ConsoleSettings


class Oidc:
    def __init__(self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings, self.transport = settings, transport
        self._discovery: dict[str, Any] | None = None

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=self.settings.oidc_client_secret,
            scope="openid",
            redirect_uri=self.settings.public_url.rstrip("/") + "/signin/callback",
            code_challenge_method="S256",
            transport=self.transport,
        )

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            if not self.settings.oidc_issuer:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no identity provider configured")
            url = self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(transport=self.transport, timeout=5.0) as http:
                r = await http.get(url)
            r.raise_for_status()
            self._discovery = r.json()
        return self._discovery

    async def start(self, request: Request, session: Session) -> Response:
        found = await self.discovery()
        verifier, nonce = generate_token(64), generate_token(24)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                found["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        session.oidc = {"state": state, "verifier": verifier, "nonce": nonce}
        request.state.new_session = session
        return RedirectResponse(url, status_code=303)

    async def finish(self, request: Request, session: Session) -> tuple[str, dict[str, Any]]:
        pending, session.oidc = session.oidc, {}
        if not pending or request.query_params.get("state") != pending.get("state"):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "sign-in expired or was not started here")
        found = await self.discovery()
        async with self._client() as client:
            token = await client.fetch_token(
                found["token_endpoint"],
                code=request.query_params.get("code", ""),
                code_verifier=pending["verifier"],
            )
        access = str(token.get("access_token", ""))
        claims = jwt.decode(access, options={"verify_signature": False})  # the services verify it
        if not {"sub", "role", "agency"} <= claims.keys():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the identity provider gave no role or agency")
        return access, claims
