"""Crypto-shredding: after erasure, nothing anywhere holds or can recover the member's identity."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from services.intake.vault import data_keys, secrets_table
from services.intake.vault.keys import KeyUnavailable, open_sealed
from shared.consumers.intake import CAD_INBOX
from shared.contracts.escalation import EscalationAcknowledged, EscalationTriggered
from shared.contracts.intake import REVEAL_SUBJECT, MemberRegistered, RevealReply, RevealRequest
from shared.envelope import STREAM, Envelope, new_id
from shared.eventstore import EventStore
from shared.topology import DLQ_STREAM

from .conftest import World
from .scan import files_under, found, stream_bytes

pytestmark = pytest.mark.integration
A = "riverton-police"
WHO = {
    "name": "Cordelia Vantongeren",
    "phone": "+1 555 808 2231",
    "email": "cvantongeren@example.net",
    "employee_id": "RPD-55120",
}


async def test_after_erasure_no_stream_or_database_holds_the_identity_and_nothing_decrypts(
    world: World,
) -> None:
    r = await world.client.post(
        "/v1/requests",
        json={"agency": A, "activation": "self", "identity": WHO},
        headers=world.auth("member", A),
    )
    case_id = r.json()["case_id"]
    [member_env] = await world.events("ev.*.member.>")
    member_ref = member_env.subject
    await world.client.put(
        f"/v1/agencies/{A}/roster",
        json={"entries": [{"cad_id": "RPD-55120", "member_ref": member_ref}]},
        headers=world.auth("coordinator", A),
    )
    await world.cases.caught_up()
    with world.intake.vault.engine.connect() as conn:
        wrapped = conn.execute(select(data_keys.c.wrapped)).scalar_one()
    registered = member_env.payload()
    assert isinstance(registered, MemberRegistered)
    assert world.intake.vault.open(member_ref, registered) == WHO  # before: the vault opens it

    erase = await world.client.delete(
        f"/v1/members/{member_ref}/identity", headers=world.auth("regional_admin", "region")
    )
    assert erase.status_code == 200, erase.text
    again = await world.client.delete(
        f"/v1/members/{member_ref}/identity", headers=world.auth("regional_admin", "region")
    )
    assert again.status_code == 200
    assert [e.event_name for e in await world.events("ev.*.member.>")] == [
        "member_registered",
        "member_identity_erased",
    ]
    await world.cases.caught_up()

    # 1. no plaintext in any stream or any database file, and the wrapped key is gone from disk
    world.intake.engine.dispose()
    world.intake.vault.engine.dispose()
    haystacks = [await stream_bytes(world.js, s) for s in (STREAM, DLQ_STREAM, CAD_INBOX)]
    haystacks.append(files_under(world.var_dir))
    for hay in haystacks:
        assert found(WHO.values(), hay) == []
    assert wrapped not in files_under(world.var_dir)

    # 2. the ciphertext in the log opens with nothing that is left: not the vault, not the KEK,
    #    not any key the vault still holds
    vault = world.intake.vault
    with pytest.raises(KeyUnavailable):
        vault.open(member_ref, registered)
    with vault.engine.connect() as conn:
        remaining = [
            vault.keyring.unwrap(row.wrapped, row[0], row.kek_id)
            for table, col in ((data_keys, data_keys.c.member_ref), (secrets_table, secrets_table.c.name))
            for row in conn.execute(select(col, table.c.wrapped, table.c.kek_id))
        ]
    candidates = [*remaining, vault.keyring.current]
    for key, (field, sealed) in itertools.product(candidates, registered.sealed.items()):
        with pytest.raises(KeyUnavailable):
            open_sealed(key, member_ref, field, sealed)
    assert vault.lookup(A, ["RPD-55120"]) == {}  # the roster link is gone too

    # 3. an escalation can no longer reveal it
    esc = new_id("x")
    await EventStore(world.js).append(
        [
            Envelope.wrap(e, agency=A, subject=esc, source="test")
            for e in (
                EscalationTriggered(
                    case_id=case_id,
                    category="court_order",
                    raised_by_role="clinician",
                    policy_version=1,
                    disclosable=True,
                ),
                EscalationAcknowledged(tier=0, by="u-clin"),
            )
        ],
        expected=0,
    )
    req = RevealRequest(
        agency=A, escalation_id=esc, case_id=case_id, requested_by="u-clin", disclosed_to="u-clin"
    )
    reply = RevealReply.model_validate_json(
        (await world.nc.request(REVEAL_SUBJECT, req.model_dump_json().encode(), timeout=5)).data
    )
    assert not reply.ok and reply.refused == "the member's identity was erased"


async def test_erasure_is_admin_only_and_unknown_members_are_404(world: World) -> None:
    r = await world.client.post(
        "/v1/members",
        json={"agency": A, "identity": {"name": "Iris Blom"}},
        headers=world.auth("coordinator", A),
    )
    ref = r.json()["member_ref"]
    for role in ("coordinator", "clinician", "member", "leader", "integration", "peer"):
        denied = await world.client.delete(f"/v1/members/{ref}/identity", headers=world.auth(role, A))
        assert denied.status_code == 403, role
    missing = await world.client.delete(
        "/v1/members/m-nobody/identity", headers=world.auth("regional_admin", A)
    )
    assert missing.status_code == 404


async def test_kek_rotation_leaves_the_log_untouched(world: World) -> None:
    from services.intake.vault import Vault
    from services.intake.vault.keys import Keyring

    await world.client.post(
        "/v1/requests",
        json={"agency": A, "activation": "self", "identity": {"name": "Bartholomew Quist"}},
        headers=world.auth("member", A),
    )
    before = await stream_bytes(world.js, STREAM)
    old = world.intake.vault.keyring.current
    new = bytes(reversed(old))
    rotated = Vault(world.intake.vault.engine, Keyring(new, (old,)))
    assert rotated.rotate() >= 1
    assert await stream_bytes(world.js, STREAM) == before
    [env] = await world.events("ev.*.member.>")
    registered = env.payload()
    assert isinstance(registered, MemberRegistered)
    assert Vault(world.intake.vault.engine, Keyring(new)).open(env.subject, registered) == {
        "name": "Bartholomew Quist"
    }
