"""An agency's intake configuration, read back for its coordinators and the regional admins: the CAD
trigger rules, which EIDO organizations are its own and which agencies its CAD credential serves, and
its code lists. Configuration, not events: it is set in the agency policy and code-list files and
reviewed like code; this only shows what the running service uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path
from pydantic import BaseModel

from services.intake.api.ports import Ports
from services.intake.domain.policy import Triggers
from shared.auth import Principal
from shared.envelope import TOKEN


class Codes(BaseModel):
    units: list[str]
    disciplines: list[str]


class Configuration(BaseModel):
    agency: str
    triggers: Triggers
    organizations: tuple[str, ...]
    serves: tuple[str, ...]
    codes: Codes


def add_routes(api: FastAPI, ports: Ports) -> None:
    @api.get("/v1/agencies/{agency}/configuration", response_model=Configuration, tags=["configuration"])
    def configuration(
        agency: Annotated[str, Path(pattern=TOKEN.pattern)],
        who: Principal = ports.auth.require("coordinator", "regional_admin"),
    ) -> Configuration:
        """What makes a CAD incident critical here, whose CAD it is, and the coded values it accepts."""
        policy, codes = ports.policies.of(agency), ports.codes.of(agency)
        return Configuration(
            agency=agency,
            triggers=policy.triggers,
            organizations=policy.organizations,
            serves=policy.serves,
            codes=Codes(units=sorted(codes.units), disciplines=sorted(codes.disciplines)),
        )
