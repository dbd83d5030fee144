"""The audit trail over HTTP: a reveal carries its coded reason into the vault's record; an escalation's
audit records list its steps and the disclosure made under it; the trail's verification passes, and
fails naming the record once a stored record is altered. A reveal without a reason is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.escalation.tables import chain_table
from tests.escalation.conftest import AGENCY, Harness, VaultDouble
from tests.escalation.test_flow import raise_and_ack

pytestmark = pytest.mark.integration
BASE = f"/v1/agencies/{AGENCY}"


async def test_a_reveal_is_recorded_with_its_reason_and_the_trail_verifies(
    h: Harness, vault: VaultDouble
) -> None:
    x = await raise_and_ack(h, AGENCY, "threat_to_identifiable_person", "u-cl")
    clinician = h.token("clinician", "u-cl")
    async with h.client() as c:
        bare = await c.post(f"{BASE}/escalations/{x}/reveal", json={}, headers=clinician)
        assert bare.status_code == 422 and "reason" in bare.text
        odd = await c.post(f"{BASE}/escalations/{x}/reveal", json={"reason": "curiosity"}, headers=clinician)
        assert odd.status_code == 422 and "curiosity" not in odd.text
        r = await c.post(
            f"{BASE}/escalations/{x}/reveal", json={"reason": "mandated_report"}, headers=clinician
        )
        assert r.status_code == 200, r.text
        assert [q.reason for q in vault.requests] == ["mandated_report"]
        await h.runner.catch_up()

        one = await c.get(f"{BASE}/escalations/{x}", headers=clinician)
        assert one.status_code == 200 and one.json()["status"] == "acknowledged"
        records = (await c.get(f"{BASE}/escalations/{x}/audit", headers=clinician)).json()
        kinds = [r["type"].split(".")[1] for r in records]
        assert kinds == ["escalation_triggered", "escalation_acknowledged", "identity_disclosed"]
        disclosed = records[-1]["data"]
        assert (disclosed["basis"], disclosed["reason"]) == (
            "threat_to_identifiable_person",
            "mandated_report",
        )
        assert "Test Member" not in str(records)
        elsewhere = await c.get(
            f"/v1/agencies/county-ems/escalations/{x}", headers=h.token("clinician", "u", "county-ems")
        )
        assert elsewhere.status_code == 404

        verdict = (await c.get(f"{BASE}/audit/verification", headers=clinician)).json()
        assert verdict["ok"] and verdict["records"] >= 3 and verdict["problems"] == []
        with h.app.engine.begin() as conn:
            position = records[1]["position"]
            conn.execute(update(chain_table).where(chain_table.c.position == position).values(body="{}"))
        verdict = (await c.get(f"{BASE}/audit/verification", headers=clinician)).json()
    assert not verdict["ok"]
    assert any(p.startswith(f"record {position} ") and "altered" in p for p in verdict["problems"])
