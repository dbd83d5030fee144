"""Every escalation route × every role, through HTTP: who may call what, and never across agencies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from shared.auth import ROLES, RoleGuard
from shared.contracts.tracking import ContactLogged
from tests.escalation.conftest import AGENCY, Harness

pytestmark = pytest.mark.integration

OTHER = "riverton-police"
POLICY = {
    "jurisdiction": "broad-duty",
    "disclosable": ["court_order"],
    "chain": [{"role": "clinician", "ack_within_s": 60}],
}
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/v1/agencies/{agency}/disclosure-policy"): {"json": POLICY},
    ("POST", "/v1/agencies/{agency}/disclosure-policy/approval"): {"json": {"proposal_id": "pp-1"}},
    ("GET", "/v1/agencies/{agency}/disclosure-policy"): {},
    ("GET", "/v1/agencies/{agency}/disclosure-policy/proposal"): {},
    ("POST", "/v1/agencies/{agency}/escalations"): {"json": {"case_id": "c-held", "category": "court_order"}},
    ("GET", "/v1/agencies/{agency}/escalations"): {},
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/acknowledge"): {},
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/resolve"): {"json": {"outcome": "no_action"}},
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/reveal"): {
        "json": {"reason": "welfare_check"}
    },
    ("GET", "/v1/agencies/{agency}/escalations/{escalation_id}"): {},
    ("GET", "/v1/agencies/{agency}/escalations/{escalation_id}/audit"): {},
    ("GET", "/v1/agencies/{agency}/audit/verification"): {},
}
EXPECTED_ROLES = {
    ("PUT", "/v1/agencies/{agency}/disclosure-policy"): {"regional_admin", "coordinator"},
    ("POST", "/v1/agencies/{agency}/disclosure-policy/approval"): {"regional_admin", "coordinator"},
    ("GET", "/v1/agencies/{agency}/disclosure-policy/proposal"): {"regional_admin", "coordinator"},
    ("GET", "/v1/agencies/{agency}/disclosure-policy"): {
        "regional_admin",
        "coordinator",
        "clinician",
        "peer",
    },
    ("POST", "/v1/agencies/{agency}/escalations"): {"peer", "clinician"},
    ("GET", "/v1/agencies/{agency}/escalations"): {"coordinator", "clinician"},
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/acknowledge"): {
        "clinician",
        "coordinator",
        "leader",
    },
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/resolve"): {
        "clinician",
        "coordinator",
        "leader",
    },
    ("POST", "/v1/agencies/{agency}/escalations/{escalation_id}/reveal"): {"clinician"},
    ("GET", "/v1/agencies/{agency}/escalations/{escalation_id}"): {"coordinator", "clinician"},
    ("GET", "/v1/agencies/{agency}/escalations/{escalation_id}/audit"): {
        "clinician",
        "coordinator",
        "regional_admin",
    },
    ("GET", "/v1/agencies/{agency}/audit/verification"): {"clinician", "coordinator", "regional_admin"},
}


async def test_every_route_admits_exactly_its_roles_and_only_in_their_agency(h: Harness) -> None:
    routes: dict[tuple[str, str], set[str]] = {}
    for route in h.app.api.routes:
        if isinstance(route, APIRoute):
            guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, RoleGuard)]
            if route.path == "/healthz":
                assert not guards
                continue
            assert len(guards) == 1, f"{route.path} has no role guard"
            for method in route.methods:
                routes[(method, route.path)] = set(guards[0].roles)
    assert routes == EXPECTED_ROLES
    assert set(SAMPLES) == set(routes), "every guarded route needs a sample request in this test"
    await h.hold("c-held", "u-1")  # the peer holding it; the clinician it was referred to
    referral = ContactLogged(
        peer_ref="u-1",
        week="2026-W02",
        mode="phone",
        categories=("health",),
        duration="15_30m",
        referral="clinician",
    )
    await h.append(AGENCY, "c-held", referral)
    async with h.client() as c:
        for (method, path), allowed in routes.items():
            sample = SAMPLES[(method, path)]
            for agency in (AGENCY, OTHER):
                url = path.replace("{agency}", agency).replace("{escalation_id}", "x-none")
                r = await c.request(method, url, json=sample.get("json"))
                assert r.status_code == 401, (method, path, "no token")
                for role in ROLES:
                    r = await c.request(method, url, json=sample.get("json"), headers=h.token(role, "u-1"))
                    if role not in allowed:
                        assert r.status_code == 403, (method, path, role, r.text)
                    elif agency == AGENCY or role == "regional_admin":
                        assert r.status_code not in (401, 403, 422, 500), (method, path, role, r.text)
                    else:
                        assert r.status_code == 403 and "outside your agency" in r.text, (method, path, role)
