"""What anyone may read without signing in: an agency's confidentiality advisement, crisis lines and
resource directory (a member in distress should not need an account to find help)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path
from pydantic import BaseModel

from services.intake.api.ports import Ports
from services.intake.domain.policy import Advisement, CrisisLine
from services.intake.domain.resources import Resource
from shared.envelope import TOKEN


class PublicInfo(BaseModel):
    agency: str
    advisement: Advisement
    crisis_lines: tuple[CrisisLine, ...]
    resources: tuple[Resource, ...]


def add_routes(api: FastAPI, ports: Ports) -> None:
    anyone = [ports.auth.open("published help: the advisement, crisis lines and resources, for anyone")]

    @api.get("/v1/agencies/{agency}/public", response_model=PublicInfo, tags=["public"], dependencies=anyone)
    def public_info(agency: Annotated[str, Path(pattern=TOKEN.pattern)]) -> PublicInfo:
        """The agency's advisement, crisis lines and resources (the region's defaults for an agency that
        publishes none of its own). Nothing about any person."""
        policy = ports.policies.of(agency)
        return PublicInfo(
            agency=agency,
            advisement=policy.advisement,
            crisis_lines=policy.crisis_lines,
            resources=policy.resources,
        )
