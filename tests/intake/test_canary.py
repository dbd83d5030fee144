"""Canary scan: seeded names, phones and emails go through every intake door, then are looked for in
plaintext in the log stream, the other streams' headers, every database file, the logs and the spans."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.consumers.intake import CAD_INBOX
from shared.contracts.escalation import EscalationAcknowledged, EscalationTriggered
from shared.contracts.intake import REVEAL_SUBJECT, RevealReply, RevealRequest
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.topology import DLQ_STREAM

from .conftest import FIXTURES, World
from .scan import files_under, found, span_text, stream_bytes

pytestmark = pytest.mark.integration
A = "riverton-fire"
PEOPLE = {
    "self": {"name": "Quentin Amberleigh", "phone": "+1 555 014 2288", "email": "q.amberleigh@example.com"},
    "supervisor": {
        "name": "Philippa Thornquist",
        "phone": "+1 555 019 7301",
        "email": "pthornquist@example.org",
    },
    "peer": {"name": "Ezekiel Marchbanks", "email": "zeke.marchbanks@example.net"},
    "post_incident": {"name": "Winifred Okafor-Lund", "phone": "+1 555 017 6650", "employee_id": "RFD-88213"},
}
CREW = {"RFD-4471": "Augustin Delacroix-Vey", "ECC-118": "Ottoline Brackenbury"}
PUBLIC = ("Harold Wexley", "+1 555 201 3344", "1412 Alder Street", "Imogen Palfrey", "+1 555 660 7781")
CANARIES = [v for who in PEOPLE.values() for v in who.values()] + list(CREW.values()) + list(PUBLIC)


async def test_seeded_identities_never_appear_in_plaintext_outside_the_vault_ciphertext(
    world: World, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = {}
    for activation, identity in PEOPLE.items():
        r = await world.client.post(
            "/v1/requests",
            json={"agency": A, "activation": activation, "identity": identity},
            headers=world.auth("peer" if activation == "peer" else "member", A),
        )
        assert r.status_code == 201, r.text
        cases[activation] = r.json()["case_id"]
    for cad_id, name in CREW.items():
        r = await world.client.post(
            "/v1/members",
            json={"agency": A, "identity": {"name": name}, "cad_ids": [cad_id]},
            headers=world.auth("coordinator", A),
        )
        assert r.status_code == 201
    # bad input carrying identity: refused without echo
    bad = await world.client.post(
        "/v1/requests",
        json={
            "agency": A,
            "activation": "self",
            "identity": {"name": "Quentin Amberleigh", "phone": "call me"},
        },
        headers=world.auth("member", A),
    )
    assert bad.status_code == 422 and found(CANARIES, bad.text) == []
    # dispatch, both doors, with the public named in the documents
    lodd = (FIXTURES / "lodd.json").read_bytes()
    r = await world.client.post(
        "/v1/cad/incidents",
        content=lodd,
        headers={**world.auth("integration", A), "content-type": "application/json"},
    )
    assert r.json()["events"] == ["critical_incident_reported"] and r.json()["involved"] == 2
    await world.js.publish(
        f"cad.{A}.incident", (FIXTURES / "mayday_update_1.json").read_bytes(), stream=CAD_INBOX
    )
    await world.cad_taken()
    # a reveal (the identity crosses NATS only on the reply inbox)
    esc = new_id("x")
    trig = EscalationTriggered(
        case_id=cases["self"],
        category="imminent_self_harm",
        raised_by_role="peer",
        policy_version=1,
        disclosable=True,
    )
    envs = [
        Envelope.wrap(e, agency=A, subject=esc, source="test")
        for e in (trig, EscalationAcknowledged(tier=0, by="u-c"))
    ]
    await EventStore(world.js).append(envs, expected=0)
    req = RevealRequest(
        agency=A, escalation_id=esc, case_id=cases["self"], requested_by="u-c", disclosed_to="u-c"
    )
    reply = RevealReply.model_validate_json(
        (await world.nc.request(REVEAL_SUBJECT, req.model_dump_json().encode(), timeout=5)).data
    )
    assert reply.ok and reply.fields["name"] == "Quentin Amberleigh"  # the canary is really in play
    await world.cases.caught_up()

    world.intake.engine.dispose()
    world.intake.vault.engine.dispose()
    places = {
        "log stream": await stream_bytes(world.js, STREAM),
        "dead letters (reasons, headers)": await stream_bytes(world.js, DLQ_STREAM, bodies=False),
        "CAD inbox after processing": await stream_bytes(world.js, CAD_INBOX),
        "every database file": files_under(world.var_dir),
        "logs": caplog.text,
        "exported spans": span_text(spans.get_finished_spans()),
    }
    assert spans.get_finished_spans(), "spans were exported"
    assert "critical_incident_reported" in places["log stream"].decode()  # the scan sees real data
    for place, haystack in places.items():
        assert found(CANARIES, haystack) == [], place
