"""What the demo region's people enter themselves once `peerline up` runs: each peer's contact points in
notify (an e-mail at a `.invalid` domain and a number in the fictional 555-01xx range; `peerline up`
gives notify a local mail catcher and the logging text adapter, so each peer has a working channel and
matching keeps offering to them) and the display name and work channels members see once a peer
accepts; and, per agency, a clinician and a coordinator on call, reachable by e-mail. Through the
services' own HTTP APIs, with dev tokens, like a person would; safe to run again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from shared.auth import Role, mint
from shared.seed import demo_peers

NAMES = ("Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Drew", "Robin")


def _number(agency_index: int, n: int) -> str:
    return f"+1555010{agency_index}{n:03d}"


def wait_ready(url: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer /healthz")


ON_CALL: tuple[Role, ...] = ("clinician", "coordinator")  # the roles a disclosure policy's tiers page


def on_call_ref(agency: str, role: str) -> str:
    return f"{role}-{agency}"


def seed_on_call(http: httpx.Client, private_key_pem: bytes, notify_url: str, agency: str) -> None:
    """One person on call for each paged role of `agency` for the next year, reachable by e-mail."""
    coordinator = mint(
        private_key_pem, role="coordinator", agency=agency, sub=on_call_ref(agency, "coordinator")
    )
    for role in ON_CALL:
        ref = on_call_ref(agency, role)
        auth = {"Authorization": f"Bearer {mint(private_key_pem, role=role, agency=agency, sub=ref)}"}
        if not http.get(f"{notify_url}/v1/me/contacts", headers=auth).json():
            body = {"channel": "email", "email": f"on-call-{role}@{agency}.invalid"}
            http.post(f"{notify_url}/v1/me/contacts", json=body, headers=auth).raise_for_status()
        now = datetime.now(UTC)
        shift = {"ref": ref, "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=365)).isoformat()}
        url = f"{notify_url}/v1/agencies/{agency}/oncall/{role}"
        http.put(
            url, json={"shifts": [shift]}, headers={"Authorization": f"Bearer {coordinator}"}
        ).raise_for_status()


def seed_people(private_key_pem: bytes, notify_url: str, matching_url: str) -> int:
    """Contact points and profiles for every demo peer that has none yet, and someone on call for each
    paged role of each agency; returns how many peers were added."""
    agencies: list[str] = []
    added = 0
    with httpx.Client(timeout=10) as http:
        for agency, peer_ref, _ in demo_peers():
            if agency not in agencies:
                agencies.append(agency)
            n = int(peer_ref.rsplit("-", 1)[1])
            token = mint(private_key_pem, role="peer", agency=agency, sub=peer_ref)
            auth = {"Authorization": f"Bearer {token}"}
            if http.get(f"{notify_url}/v1/me/contacts", headers=auth).json():
                continue
            number = _number(len(agencies), n)
            for body in (
                {"channel": "email", "email": f"{peer_ref}@peers.{agency}.invalid"},
                {"channel": "sms", "phone": number},
            ):
                http.post(f"{notify_url}/v1/me/contacts", json=body, headers=auth).raise_for_status()
            profile = {"display_name": f"{NAMES[(n - 1) % len(NAMES)]} ({agency})", "phone": number}
            url = f"{matching_url}/v1/agencies/{agency}/peers/{peer_ref}/profile"
            http.put(url, json=profile, headers=auth).raise_for_status()
            added += 1
        for agency in agencies:
            seed_on_call(http, private_key_pem, notify_url, agency)
    return added
