"""Flows that cross services, each service its own process: dispatch → debrief offers, and a risk concern
→ tiered page → identity revealed by intake's vault only under policy, and recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import Role
from tests.support.bus import connect
from tests.support.cluster import Cluster, events

pytestmark = pytest.mark.e2e
FIRE = "riverton-fire"
LODD = Path(__file__).parent / "intake" / "fixtures" / "lodd.json"
AGENTS = ("RFD-4471", "RFD-5180", "RFD-3302", "RFD-2290", "RFD-6013", "ECC-118", "ECC-204")
DECEASED = "RFD-6013"  # CAD marks this firefighter deceased: no offer, their coordinator is alerted


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("flows")) as c:
        yield c


def auth(c: Cluster, role: Role, sub: str | None = None) -> dict[str, str]:
    from shared.auth import mint

    return {"Authorization": f"Bearer {mint(c.private_key, role=role, agency=FIRE, sub=sub)}"}


def test_line_of_duty_death_from_cad_offers_a_debrief_to_every_crew_member_and_dispatcher(
    cluster: Cluster,
) -> None:
    refs = {}
    for cad_id in AGENTS:
        r = httpx.post(
            f"{cluster.url('intake')}/v1/members",
            headers=auth(cluster, "coordinator"),
            json={"agency": FIRE, "identity": {"name": f"Member {cad_id}"}, "cad_ids": [cad_id]},
        )
        assert r.status_code == 201, r.text
        refs[cad_id] = r.json()["member_ref"]
    lodd = LODD.read_bytes()
    for _ in range(2):  # CAD sends the same incident again: still one report, one offer each
        r = httpx.post(
            f"{cluster.url('intake')}/v1/cad/incidents",
            content=lodd,
            headers={**auth(cluster, "integration"), "content-type": "application/json"},
        )
        assert r.status_code == 200, r.text
    [report] = events(cluster, f"ev.{FIRE}.incident.>", 1)
    assert report.event_name == "critical_incident_reported"
    offers = events(cluster, "ev.*.debrief.*.debrief_offered", len(AGENTS) - 1)
    living = [ref for cad_id, ref in refs.items() if cad_id != DECEASED]
    assert sorted(o.data["member_ref"] for o in offers) == sorted(living)
    [alert] = events(cluster, f"ev.{FIRE}.lodd_alert.>", 1)
    assert alert.data["deceased"] == 1 and alert.data["incident_type"] == "fire - structure"
    roles = {o.data["member_ref"]: o.data["role"] for o in offers}
    assert roles[refs["ECC-204"]] == "dispatcher" and roles[refs["ECC-118"]] == "call_taker"
    last_offer = max(o.time for o in offers)
    print(f"CAD report → last offer: {(last_offer - report.time).total_seconds() * 1000:.0f} ms")
    time.sleep(1.0)
    assert len(events(cluster, "ev.*.debrief.*.debrief_offered", 0)) == len(AGENTS) - 1
    assert len(events(cluster, "ev.*.lodd_alert.>", 0)) == 1


def test_concern_pages_clinician_and_identity_is_revealed_only_under_policy(cluster: Cluster) -> None:
    identity = {"name": "Jordan Vance", "phone": "+1 555 010 7788"}
    r = httpx.post(
        f"{cluster.url('intake')}/v1/requests",
        headers=auth(cluster, "member"),
        json={"agency": FIRE, "activation": "self", "identity": identity},
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    esc_api = f"{cluster.url('escalation')}/v1/agencies/{FIRE}/escalations"
    [assigned] = [e for e in events(cluster, f"ev.{FIRE}.case.{case_id}.peer_assigned", 1)]
    holder = auth(cluster, "peer", sub=assigned.data["peer_ref"])  # only the peer holding the case raises

    async def page_for(escalation_role: str) -> dict[str, object]:
        nc = await connect(cluster.server.url)
        sub = await nc.subscribe(f"notify.{FIRE}.{escalation_role}")
        raised = await asyncio.to_thread(
            httpx.post,
            esc_api,
            headers=holder,
            json={"case_id": case_id, "category": "imminent_self_harm", "intent_and_plan": True},
        )
        assert raised.status_code == 201, raised.text
        msg = await sub.next_msg(timeout=5)
        await nc.close()
        import json

        return {"raised": raised.json(), "page": json.loads(msg.data)}

    got = asyncio.run(page_for("clinician"))
    escalation_id = got["raised"]["escalation_id"]  # type: ignore[index]
    page = got["page"]
    assert page["escalation_id"] == escalation_id and page["case_id"] == case_id  # type: ignore[index]
    assert "Jordan" not in str(page) and "7788" not in str(page)

    clinician = auth(cluster, "clinician", sub="u-clin-1")
    refused = httpx.post(
        f"{esc_api}/{escalation_id}/reveal", json={"reason": "welfare_check"}, headers=clinician
    )
    assert refused.status_code in (403, 409), refused.text  # not acknowledged yet
    ack = httpx.post(f"{esc_api}/{escalation_id}/acknowledge", headers=clinician)
    assert ack.status_code == 200, ack.text
    other = httpx.post(
        f"{esc_api}/{escalation_id}/reveal",
        json={"reason": "welfare_check"},
        headers=auth(cluster, "clinician", sub="u-clin-2"),
    )
    assert other.status_code in (403, 409), other.text  # only the acknowledging clinician
    shown = httpx.post(
        f"{esc_api}/{escalation_id}/reveal", json={"reason": "welfare_check"}, headers=clinician
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["fields"]["name"] == "Jordan Vance"
    disclosed = [e for e in events(cluster, f"ev.{FIRE}.member.>", 1) if e.event_name == "identity_disclosed"]
    assert [(d.data["escalation_id"], d.data["requested_by"]) for d in disclosed] == [
        (escalation_id, "u-clin-1")
    ]


def test_a_risk_flag_in_a_contact_report_pages_the_clinician(cluster: Cluster) -> None:
    r = httpx.post(
        f"{cluster.url('intake')}/v1/requests",
        headers=auth(cluster, "member"),
        json={"agency": FIRE, "activation": "self"},
    )
    case_id = r.json()["case_id"]
    [assigned] = [e for e in events(cluster, f"ev.{FIRE}.case.{case_id}.peer_assigned", 1)]
    peer_ref = assigned.data["peer_ref"]
    contact = {"mode": "phone", "categories": ["critical_incident"], "duration": "15_30m", "risk_flag": True}

    async def report_and_wait_for_page() -> dict[str, object]:
        import json

        nc = await connect(cluster.server.url)
        sub = await nc.subscribe(f"notify.{FIRE}.clinician")
        other = await asyncio.to_thread(  # only the assigned peer may report on the case
            httpx.post,
            f"{cluster.url('tracking')}/v1/agencies/{FIRE}/cases/{case_id}/contacts",
            headers=auth(cluster, "peer", sub="p-someone-else"),
            json=contact,
        )
        assert other.status_code == 403, other.text
        logged = await asyncio.to_thread(
            httpx.post,
            f"{cluster.url('tracking')}/v1/agencies/{FIRE}/cases/{case_id}/contacts",
            headers=auth(cluster, "peer", sub=peer_ref),
            json=contact,
        )
        assert logged.status_code == 201, logged.text
        while True:
            page = json.loads((await sub.next_msg(timeout=5)).data)
            if page["case_id"] == case_id:
                await nc.close()
                return dict(page)

    page = asyncio.run(report_and_wait_for_page())
    assert page["tier"] == 1 and page["role"] == "clinician"
    assert "member_ref" not in page and peer_ref not in str(page)


def test_a_peer_never_gets_their_own_request_nor_a_captain_the_peer_who_reports_to_him(
    cluster: Cluster,
) -> None:
    """Each agency has one peer who would otherwise be the only match: the peer themself in one, a peer
    reporting to the requester in the other. Both requests stay unmatched."""

    def headers(role: Role, agency: str, sub: str | None = None) -> dict[str, str]:
        from shared.auth import mint

        return {"Authorization": f"Bearer {mint(cluster.private_key, role=role, agency=agency, sub=sub)}"}

    def member(agency: str, subject: str) -> str:
        r = httpx.post(
            f"{cluster.url('intake')}/v1/members",
            headers=headers("coordinator", agency),
            json={"agency": agency, "identity": {"name": f"Member {subject}"}, "subject": subject},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["member_ref"])

    def only_peer(agency: str, member_ref: str | None, supervisor_refs: list[str]) -> str:
        api = f"{cluster.url('matching')}/v1/agencies/{agency}/peers"
        body = {
            "discipline": "ems",
            "enrolled": True,
            "member_ref": member_ref,
            "supervisor_refs": supervisor_refs,
        }
        r = httpx.post(api, headers=headers("coordinator", agency), json=body)
        assert r.status_code == 201, r.text
        peer_ref = str(r.json()["peer_ref"])
        me = headers("peer", agency, peer_ref)
        assert httpx.post(
            f"{api}/{peer_ref}/acknowledgement", headers=me, json={"policy_version": "1"}
        ).is_success
        assert httpx.put(f"{api}/{peer_ref}/availability", headers=me, json={"available": True}).is_success
        deadline = time.monotonic() + 20  # matched on the directory view: wait until it has them on duty
        while not httpx.get(f"{api}/{peer_ref}", headers=me).json().get("on_duty"):
            assert time.monotonic() < deadline, "the directory never showed the peer on duty"
            time.sleep(0.05)
        return peer_ref

    def outcome(agency: str, subject: str) -> str:
        r = httpx.post(
            f"{cluster.url('intake')}/v1/requests",
            headers=headers("member", agency, subject),
            json={"agency": agency, "activation": "self"},
        )
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        decided = events(cluster, f"ev.{agency}.case.{case_id}.>", 2)
        return next(e.event_name for e in decided if e.event_name in ("peer_assigned", "request_unmatched"))

    only_peer("lakeside-ems", member("lakeside-ems", "u-pat"), [])
    assert outcome("lakeside-ems", "u-pat") == "request_unmatched"  # the peer asked for help themself
    captain = member("harbor-fire", "u-captain")
    only_peer("harbor-fire", None, [captain])
    assert outcome("harbor-fire", "u-captain") == "request_unmatched"  # the only peer reports to him
    assert outcome("harbor-fire", "u-firefighter") == "peer_assigned"  # anyone else is matched to them
