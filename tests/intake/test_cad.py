"""CAD through both doors — `POST /v1/cad/incidents` and NATS `cad.<agency>.incident` — on real JetStream."""

from __future__ import annotations

import json

import pytest

from shared.consumers.intake import CAD_INBOX
from shared.contracts.intake import CriticalIncidentReported, IncidentRespondersAdded
from shared.topology import DLQ_STREAM

from .conftest import FIXTURES, World, stored

pytestmark = pytest.mark.integration
FIRE = "riverton-fire"
CREW = {
    "RFD-4471": "Daniel Reyes",
    "RFD-5180": "Priya Natarajan",
    "RFD-3302": "Sean O'Doherty",
    "RFD-2290": "Marisol Vega",
    "RFD-6013": "Kwame Asante",
    "ECC-118": "Beth Lindqvist",
    "ECC-204": "Arjun Mehta",
    "RFD-1001": "Lena Fischer",
    "RFD-1002": "Omar Haddad",
    "RFD-1003": "Joanne Kerr",
    "RFD-1004": "Felix Duarte",
}
PUBLIC = ("Wexley", "555 201 3344", "Alder Street", "Palfrey", "555 660 7781", "Nadia", "Ferrante")


async def roster(world: World) -> dict[str, str]:
    """Register the crew (coordinator) with their CAD ids; returns cad id → member_ref."""
    refs = {}
    for cad_id, name in CREW.items():
        r = await world.client.post(
            "/v1/members",
            json={"agency": FIRE, "identity": {"name": name}, "discipline": "fire", "cad_ids": [cad_id]},
            headers=world.auth("coordinator", FIRE),
        )
        assert r.status_code == 201, r.text
        refs[cad_id] = r.json()["member_ref"]
    return refs


async def incidents(world: World) -> list[object]:
    return [e.payload() for e in await world.events("ev.*.incident.>")]


async def test_a_line_of_duty_death_posted_by_cad_reports_the_crew_by_member_ref(world: World) -> None:
    refs = await roster(world)
    doc = (FIXTURES / "lodd.json").read_bytes()
    post = await world.client.post(
        "/v1/cad/incidents",
        content=doc,
        headers={**world.auth("integration", FIRE), "content-type": "application/json"},
    )
    assert post.status_code == 200, post.text
    assert post.json()["events"] == ["critical_incident_reported"] and post.json()["involved"] == 7
    [report] = await incidents(world)
    assert isinstance(report, CriticalIncidentReported) and report.flags.line_of_duty_death
    expected = {
        refs[c] for c in ("RFD-4471", "RFD-5180", "RFD-3302", "RFD-2290", "RFD-6013", "ECC-118", "ECC-204")
    }
    assert {i.member_ref for i in report.involved} == expected
    assert {i.role for i in report.involved} == {"responder", "call_taker", "dispatcher"}
    again = await world.client.post(
        "/v1/cad/incidents",
        content=doc,
        headers={**world.auth("integration", FIRE), "content-type": "application/json"},
    )
    assert again.json()["events"] == [] and again.json()["incident_ref"] == post.json()["incident_ref"]
    assert len(await incidents(world)) == 1
    log = b"".join(data for data, _ in await stored(world.js, "PEERLINE_EVENTS"))
    for text in (*PUBLIC, *CREW.values(), *CREW):
        assert text.encode() not in log, text


async def test_the_same_incident_over_nats_three_times_is_one_report_then_additions(world: World) -> None:
    refs = await roster(world)
    for n in (1, 2, 3):
        ack = await world.js.publish(
            f"cad.{FIRE}.incident", (FIXTURES / f"mayday_update_{n}.json").read_bytes(), stream=CAD_INBOX
        )
        assert ack.stream == CAD_INBOX
    await world.cad_taken()
    report, added = await incidents(world)
    assert isinstance(report, CriticalIncidentReported) and report.flags.mayday
    assert {i.member_ref for i in report.involved} == {refs["RFD-1001"], refs["RFD-1002"], refs["ECC-204"]}
    assert isinstance(added, IncidentRespondersAdded)
    assert {i.member_ref for i in added.involved} == {refs["RFD-1003"], refs["RFD-1004"]}
    assert {i.unit for i in added.involved} == {"L3"}
    info = await world.js.stream_info(CAD_INBOX)
    assert info.state.messages == 0  # raw CAD documents leave once taken


async def test_an_ordinary_call_and_a_webhook(world: World) -> None:
    await roster(world)
    integration = {**world.auth("integration", FIRE), "content-type": "application/json"}
    r = await world.client.post(
        "/v1/cad/incidents", content=(FIXTURES / "ordinary.json").read_bytes(), headers=integration
    )
    assert r.status_code == 200 and r.json()["events"] == []
    hook = json.loads((FIXTURES / "webhook_ois.json").read_text())
    r = await world.client.post(
        "/v1/cad/incidents", json=hook, headers=world.auth("integration", "riverton-police")
    )
    assert r.status_code == 200 and r.json()["events"] == ["critical_incident_reported"]
    assert r.json()["unmapped"] == 3  # police crew not on the roster: not kept, counted
    [report] = await incidents(world)
    assert isinstance(report, CriticalIncidentReported) and report.involved == ()
    assert "Strickland" not in str(await world.events())


async def test_a_malformed_document_is_422_over_http_and_dead_lettered_over_nats(world: World) -> None:
    raw = (FIXTURES / "malformed.json").read_bytes()
    r = await world.client.post(
        "/v1/cad/incidents",
        content=raw,
        headers={**world.auth("integration", FIRE), "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert any("incidentTypeCommonRegistryText" in d["loc"] for d in r.json()["detail"])
    assert "Ferrante" not in r.text
    await world.js.publish(f"cad.{FIRE}.incident", raw, stream=CAD_INBOX)
    await world.js.publish(f"cad.{FIRE}.incident", b"{truncated", stream=CAD_INBOX)
    await world.cad_taken()
    dead = await stored(world.js, DLQ_STREAM, "dlq.intake-cad-inbox")
    assert len(dead) == 2
    reasons = [h["Peerline-Reason"] for _, h in dead]
    assert "incidentComponent.0.incidentTypeCommonRegistryText" in reasons[0]
    assert "incidentComponent.0.incidentCommonPriorityNumber" in reasons[0]
    assert "Ferrante" not in reasons[0] and reasons[1].startswith("JSONDecodeError")
    assert dead[0][0] == raw  # the original, for a coordinator to inspect
    assert {h["Nats-TTL"] for _, h in dead} == {"604800s"}  # raw public data expires from the DLQ
    assert await incidents(world) == []
    assert (await world.js.stream_info(CAD_INBOX)).state.messages == 0


async def test_a_document_that_breaks_the_parser_is_dead_lettered_and_the_next_one_is_taken(
    world: World,
) -> None:
    await roster(world)
    nested = b'{"incidentComponent": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    await world.js.publish(f"cad.{FIRE}.incident", nested, stream=CAD_INBOX)
    await world.js.publish(f"cad.{FIRE}.incident", (FIXTURES / "lodd.json").read_bytes(), stream=CAD_INBOX)
    await world.cad_taken()
    [(data, headers)] = await stored(world.js, DLQ_STREAM, "dlq.intake-cad-inbox")
    assert data == nested and headers["Peerline-Reason"].startswith("RecursionError")
    [report] = await incidents(world)
    assert isinstance(report, CriticalIncidentReported)
    assert (await world.js.stream_info(CAD_INBOX)).state.messages == 0


async def test_an_integration_names_no_one_of_an_agency_it_does_not_speak_for(world: World) -> None:
    r = await world.client.post(
        "/v1/members",
        json={"agency": "riverton-police", "identity": {"name": "Officer Hale"}, "cad_ids": ["RPD-77"]},
        headers=world.auth("coordinator", "riverton-police"),
    )
    police_ref = r.json()["member_ref"]
    doc = json.loads((FIXTURES / "lodd.json").read_text())
    doc["agencyComponent"].append({"$id": "agency-rpd", "organizationIdentification": "riverton-police"})
    doc["agentComponent"].append(
        {
            "$id": "agent-RPD-77",
            "agentIdentification": "RPD-77",
            "agentRoleRegistryText": ["Responding"],
            "agencyReference": {"$ref": "agency-rpd"},
        }
    )
    r = await world.client.post("/v1/cad/incidents", json=doc, headers=world.auth("integration", FIRE))
    assert r.status_code == 200, r.text
    # riverton-fire's crew is not on the roster here; the officer is not looked up, only counted
    assert r.json()["involved"] == 0 and r.json()["not_served"] == 1
    assert police_ref not in str([e.data for e in await world.events("ev.*.incident.>")])
