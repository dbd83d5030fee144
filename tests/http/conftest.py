"""Every service's HTTP app, built by its real composition root (not started: these requests are
answered before a route runs), and a client that signs tokens for any role."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.escalation.main import Escalation
from services.escalation.settings import EscalationSettings
from services.intake.main import Intake
from services.intake.settings import IntakeSettings
from services.matching.main import Matching
from services.matching.settings import MatchingSettings
from services.tracking.main import Tracking
from services.tracking.settings import TrackingSettings
from services.wellness.main import Wellness
from services.wellness.settings import WellnessSettings
from shared.auth import generate_dev_keys, mint

AGENCY = "riverton-fire"


@dataclass(frozen=True)
class Write:
    """One JSON route of a service and who may call it."""

    service: str
    method: str
    path: str
    role: str
    sub: str | None = None


WRITES = [
    Write("intake", "POST", "/v1/requests", "member"),
    Write("matching", "POST", f"/v1/agencies/{AGENCY}/peers", "coordinator"),
    Write("escalation", "PUT", f"/v1/agencies/{AGENCY}/disclosure-policy", "regional_admin"),
    Write("tracking", "POST", f"/v1/agencies/{AGENCY}/cases/c-1/contacts", "peer", "p-1"),
    Write("wellness", "POST", f"/v1/agencies/{AGENCY}/peers/p-1/break", "peer", "p-1"),
]


def build_apps(var: Path, public: Path, **limits: Any) -> dict[str, FastAPI]:
    common: dict[str, Any] = {"jwt_public_key_file": public, **limits}
    (var / "kek").parent.mkdir(parents=True, exist_ok=True)
    (var / "kek").write_text(base64.b64encode(bytes(32)).decode())
    return {
        "intake": Intake(IntakeSettings(var_dir=var / "i", kek_file=var / "kek", **common)).api,
        "matching": Matching(MatchingSettings(var_dir=var / "m", **common)).api,
        "escalation": Escalation(EscalationSettings(var_dir=var / "e", **common)).api,
        "tracking": Tracking(TrackingSettings(var_dir=var / "t", **common)).api,
        "wellness": Wellness(WellnessSettings(var_dir=var / "w", **common)).api,
    }


class Caller:
    def __init__(self, apps: dict[str, FastAPI], key: bytes) -> None:
        self.apps, self.key = apps, key
        self.clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url=f"http://{name}")
            for name, api in apps.items()
        }

    def token(self, role: str, sub: str | None = None, agency: str = AGENCY, **kw: Any) -> str:
        return mint(self.key, role=role, agency=agency, sub=sub, **kw)  # type: ignore[arg-type]

    async def send(self, write: Write, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token(write.role, write.sub)}"}
        headers.update(kw.pop("headers", {}))
        return await self.clients[write.service].request(write.method, write.path, headers=headers, **kw)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


@pytest.fixture
async def caller(tmp_path: Path) -> AsyncIterator[Caller]:
    private, public = generate_dev_keys(tmp_path / "keys")
    c = Caller(build_apps(tmp_path / "var", public), private.read_bytes())
    yield c
    await c.close()
