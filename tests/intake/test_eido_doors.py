"""EIDO through both doors, HTTP and NATS, alike: NENA's public samples, and a structure fire a dispatch
centre sends three times (the mayday only in the second update) for the agencies it serves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from services.intake.domain.policy import AgencyPolicy
from shared.consumers.intake import CAD_INBOX
from shared.contracts.intake import CriticalIncidentReported, IncidentFlagsRaised
from shared.topology import DLQ_STREAM

from .conftest import World, stored
from .scan import files_under, found, stream_bytes

pytestmark = pytest.mark.integration
EIDO = Path(__file__).parent / "fixtures" / "eido"
ECC = "riverton-ecc"
ROSTER = {
    ECC: ("ECC-118", "ECC-204"),
    "riverton-fire": ("RFD-1001", "RFD-1002", "RFD-1003", "RFD-1004"),
    "county-ems": ("CEMS-1107",),
    "riverton-police": ("RPD-0871",),
}
PUBLIC = ("Rosalind", "Threlkeld", "Tobias", "5552014488", "Quillon", "grandson")


def serve(world: World) -> None:
    """The dispatch centre's credential serves fire and EMS, not police; each agency names its own."""
    world.intake.policies.by_agency.update(
        {
            ECC: AgencyPolicy(
                organizations=("ecc.riverton.example.gov",), serves=("riverton-fire", "county-ems")
            ),
            "riverton-fire": AgencyPolicy(organizations=("fire.riverton.example.gov",)),
            "county-ems": AgencyPolicy(organizations=("ems.county.example.gov",)),
            "riverton-police": AgencyPolicy(organizations=("police.riverton.example.gov",)),
        }
    )


async def roster(world: World) -> dict[str, str]:
    refs = {}
    for agency, ids in ROSTER.items():
        for cad_id in ids:
            r = await world.client.post(
                "/v1/members",
                json={"agency": agency, "identity": {"name": f"Member {cad_id}"}, "cad_ids": [cad_id]},
                headers=world.auth("coordinator", agency),
            )
            assert r.status_code == 201, r.text
            refs[cad_id] = r.json()["member_ref"]
    return refs


async def send(world: World, door: str, raw: bytes, agency: str = ECC) -> dict[str, Any] | None:
    """One document through one door; the HTTP answer, or None over NATS (after it was taken)."""
    if door == "http":
        headers = {**world.auth("integration", agency), "content-type": "application/json"}
        r = await world.client.post("/v1/cad/incidents", content=raw, headers=headers)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer
    await world.js.publish(f"cad.{agency}.incident", raw, stream=CAD_INBOX)
    await world.cad_taken()
    return None


async def incident_events(world: World) -> list[Any]:
    return [e.payload() for e in await world.events("ev.*.incident.>")]


@pytest.mark.parametrize("door", ["http", "nats"])
async def test_every_public_nena_sample_is_taken_and_reports_nothing(world: World, door: str) -> None:
    for sample in sorted((EIDO / "nena").glob("*.json")):
        answer = await send(world, door, sample.read_bytes(), agency="riverton-fire")
        if answer is not None:
            assert answer["events"] == [] and answer["outcome"].startswith("no report"), answer
    assert await incident_events(world) == []
    assert await stored(world.js, DLQ_STREAM, "dlq.intake-cad-inbox") == []
    assert (await world.js.stream_info(CAD_INBOX)).state.messages == 0


@pytest.mark.parametrize("door", ["http", "nats"])
async def test_a_structure_fire_whose_mayday_comes_second_is_reported_once_for_the_served_agencies(
    world: World, door: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    serve(world)
    refs = await roster(world)
    answers = [
        await send(world, door, (EIDO / f"structure_fire_{n}.json").read_bytes()) for n in (1, 2, 3, 3)
    ]
    report, raised = await incident_events(world)

    assert isinstance(report, CriticalIncidentReported) and report.flags.mayday
    assert report.incident_type == "fire - structure"
    assert set(report.agencies) == {ECC, "riverton-fire", "county-ems"}
    served = {c for a, ids in ROSTER.items() if a != "riverton-police" for c in ids}
    assert {i.member_ref for i in report.involved} == {refs[c] for c in served}
    by_ref = {i.member_ref: i for i in report.involved}
    assert by_ref[refs["CEMS-1107"]].agency == "county-ems" and by_ref[refs["RFD-1003"]].unit == "L3"
    assert by_ref[refs["ECC-118"]].role == "call_taker" and by_ref[refs["ECC-204"]].role == "dispatcher"
    assert refs["RPD-0871"] not in by_ref  # police is not served by this credential: ignored

    assert isinstance(raised, IncidentFlagsRaised)
    assert raised.flags.line_of_duty_death and raised.flags.child_victim and not raised.flags.mayday
    assert raised.deceased == (refs["RFD-1004"],)

    if door == "http":
        first, second, third, again = answers
        assert first is not None and first["events"] == [] and first["outcome"].startswith("no report")
        assert first["not_served"] == 1 and first["involved"] == 4
        assert second is not None and second["events"] == ["critical_incident_reported"]
        assert third is not None and third["events"] == ["incident_flags_raised"]
        assert again is not None and again["events"] == [] and again["outcome"].startswith("nothing new")

    # nothing of the public anywhere: the log, the inbox, the dead letters, the databases, the logs
    for stream in ("PEERLINE_EVENTS", CAD_INBOX, DLQ_STREAM):
        assert found(PUBLIC, await stream_bytes(world.js, stream)) == [], stream
    assert found(PUBLIC, files_under(world.var_dir)) == []
    assert found(PUBLIC, caplog.text) == []
    assert found(PUBLIC, json.dumps(answers)) == []
