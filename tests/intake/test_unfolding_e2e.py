"""Done when: a multi-update EIDO incident, sent by a dispatch centre for the agencies it serves, gives
every crew member, call-taker and dispatcher on it exactly one offer — intake and wellness as processes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import mint
from tests.support.cluster import Cluster, events

pytestmark = pytest.mark.e2e
EIDO = Path(__file__).parent / "fixtures" / "eido"
ECC = "riverton-ecc"
ROSTER = {
    ECC: ("ECC-118", "ECC-204"),
    "riverton-fire": ("RFD-1001", "RFD-1002", "RFD-1003", "RFD-1004"),
    "county-ems": ("CEMS-1107",),
    "riverton-police": ("RPD-0871",),
}
POLICY = {
    ECC: {"organizations": ["ecc.riverton.example.gov"], "serves": ["riverton-fire", "county-ems"]},
    "riverton-fire": {"organizations": ["fire.riverton.example.gov"]},
    "county-ems": {"organizations": ["ems.county.example.gov"]},
    "riverton-police": {"organizations": ["police.riverton.example.gov"]},
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    policy = tmp_path / "agencies.json"
    policy.write_text(json.dumps(POLICY))
    env = {"PEERLINE_AGENCY_POLICY_FILE": str(policy)}
    with Cluster(tmp_path / "run", services=("intake", "wellness"), env=env) as c:
        yield c


def auth(c: Cluster, role: str, agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(c.private_key, role=role, agency=agency)}"}  # type: ignore[arg-type]


def test_an_unfolding_structure_fire_offers_each_served_person_exactly_once(cluster: Cluster) -> None:
    refs = {}
    for agency, ids in ROSTER.items():
        for cad_id in ids:
            r = httpx.post(
                f"{cluster.url('intake')}/v1/members",
                headers=auth(cluster, "coordinator", agency),
                json={"agency": agency, "identity": {"name": f"Member {cad_id}"}, "cad_ids": [cad_id]},
            )
            assert r.status_code == 201, r.text
            refs[cad_id] = r.json()["member_ref"]
    outcomes = []
    for n in (1, 2, 3, 2, 3):  # the CAD resends older updates too
        r = httpx.post(
            f"{cluster.url('intake')}/v1/cad/incidents",
            content=(EIDO / f"structure_fire_{n}.json").read_bytes(),
            headers={**auth(cluster, "integration", ECC), "content-type": "application/json"},
        )
        assert r.status_code == 200, r.text
        outcomes.append(r.json()["events"])
    assert outcomes == [[], ["critical_incident_reported"], ["incident_flags_raised"], [], []]

    served = [c for agency, ids in ROSTER.items() if agency != "riverton-police" for c in ids]
    offers = events(cluster, "ev.*.debrief.*.debrief_offered", len(served))
    # offered at the mayday (update 2), before CAD marked RFD-1004 deceased: the offer stands
    assert sorted(o.data["member_ref"] for o in offers) == sorted(refs[c] for c in served)
    assert {o.data["incident_type"] for o in offers} == {"fire - structure"}
    assert {o.data["incident_date"] for o in offers} == {"2026-09-12"}
    [alert] = events(cluster, "ev.riverton-fire.lodd_alert.>", 1)
    assert alert.data["deceased"] == 1
    time.sleep(1.0)  # anything still to come would be a second offer
    assert len(events(cluster, "ev.*.debrief.*.debrief_offered", 0)) == len(served)
