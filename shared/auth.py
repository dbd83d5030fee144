"""Bearer-token authorization for every HTTP route: a JWT carrying a role and an agency.

`peerline up` makes a development key pair under var/keys; production points `jwt_jwks_url` (or a PEM
public key) at the region's identity provider. Each route declares who may call it, machine-readably:
`auth.require(*roles, owner={role: path_param})` (the roles, and for which of them the object must be
the caller's own), or `auth.open(reason)` for the few routes without a bearer token (health, a case
token). tests/test_authz_matrix.py walks every service's routes and fails on one that declares neither.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from shared.envelope import TOKEN
from shared.files import private_dir

Role = Literal["member", "peer", "coordinator", "clinician", "leader", "regional_admin", "integration"]
ROLES: tuple[Role, ...] = get_args(Role)
ALGORITHMS = ["EdDSA", "RS256", "ES256"]
MAX_LIFETIME_S = 24 * 3600  # a token lives at most a day (exp - iat)
INVALID = (jwt.PyJWTError, ValueError, TypeError)  # what a token that cannot be trusted raises


class Principal(BaseModel):
    sub: str = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")
    role: Role
    agency: str = Field(pattern=TOKEN.pattern)


def generate_dev_keys(directory: Path) -> tuple[Path, Path]:
    """An Ed25519 key pair for development (kept if it exists). Returns (private, public) paths."""
    private_dir(directory)
    private, public = directory / "jwt-signing.pem", directory / "jwt-public.pem"
    if not private.exists():
        key = Ed25519PrivateKey.generate()
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private.chmod(0o600)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public


def mint(
    private_key_pem: bytes,
    *,
    role: Role,
    agency: str,
    sub: str | None = None,
    issuer: str = "peerline-dev",
    audience: str = "peerline",
    ttl_s: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": sub or f"u-{uuid.uuid4().hex[:12]}",
        "role": role,
        "agency": agency,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, private_key_pem, algorithm="EdDSA")


class Verifier:
    """Checks signature, issuer, audience, issue and expiry times (bounded lifetime); yields the principal."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: bytes | None = None,
        jwks_url: str | None = None,
        max_lifetime_s: int = MAX_LIFETIME_S,
    ) -> None:
        if not public_key_pem and not jwks_url:
            raise ValueError("configure a JWT public key file or a JWKS URL")
        self._key = serialization.load_pem_public_key(public_key_pem) if public_key_pem else None
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self.issuer, self.audience, self.max_lifetime_s = issuer, audience, max_lifetime_s
        # Tokens verified lately, until they expire: the rate limiter and the route check the same one.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def __call__(self, token: str) -> Principal:
        seen = self._verified.get(token)
        if seen is not None and time.time() < seen[1]:
            return seen[0]
        principal, exp = self._verify(token)
        self._verified[token] = (principal, exp)
        while len(self._verified) > 10_000:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        key: Any = self._key
        if self._jwks is not None:
            key = self._jwks.get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(iat, int | float) or exp - iat > self.max_lifetime_s:
            raise jwt.InvalidTokenError("lifetime too long")
        return Principal.model_validate(claims), float(exp)

    def client_name(self, token: str) -> str | None:
        """Who holds this token, if it is valid (the rate limiter's key); None otherwise."""
        try:
            p = self(token)
        except INVALID:
            return None
        return f"{p.role}:{p.agency}:{p.sub}"


_bearer = HTTPBearer(auto_error=False)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


class RoleGuard:
    """A FastAPI dependency admitting only the listed roles, only in their own agency where the path names
    one (`{agency}`; a regional admin reaches every agency), and for a role in `owner` only when the named
    path parameter is the caller's own subject (a peer acts only for themselves). Routes keep it so tests
    can walk them. Async: checked on the loop (a signature check), never a thread hand-over per request."""

    def __init__(
        self, verifier: Verifier, roles: tuple[Role, ...], owner: Mapping[Role, str] | None = None
    ) -> None:
        self.verifier, self.roles, self.owner = verifier, roles, dict(owner or {})

    async def __call__(
        self, request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        if creds is None:
            raise unauthorized("a bearer token is required")
        try:
            principal = self.verifier(creds.credentials)
        except INVALID as exc:
            raise unauthorized("the token is invalid or expired") from exc
        if principal.role not in self.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
        agency = request.path_params.get("agency")
        if agency is not None:
            check_agency(principal, agency)  # a route's agency in its path is scoped here, before anything
        param = self.owner.get(principal.role)
        if param is not None and request.path_params.get(param) != principal.sub:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {principal.role} acts only for themselves")
        return principal


class OpenRoute:
    """A FastAPI dependency declaring a route callable without a bearer token, and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self) -> None:
        return None


class Auth:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def require(self, *roles: Role, owner: Mapping[Role, str] | None = None) -> Any:
        return Depends(RoleGuard(self.verifier, roles, owner))

    @staticmethod
    def open(reason: str) -> Any:
        return Depends(OpenRoute(reason))

    @classmethod
    def from_settings(
        cls, public_key_file: Path | None, jwks_url: str | None, issuer: str, audience: str
    ) -> Auth:
        pem = public_key_file.read_bytes() if public_key_file else None
        return cls(Verifier(issuer=issuer, audience=audience, public_key_pem=pem, jwks_url=jwks_url))


def check_agency(principal: Principal, agency: str) -> None:
    """Agency scoping: only a regional admin reaches beyond their own agency."""
    if principal.role != "regional_admin" and principal.agency != agency:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside your agency")
