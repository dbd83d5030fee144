"""What the demo region's peers enter themselves once `peerline up` runs: their contact points in notify
(an e-mail at a `.invalid` domain and a number in the fictional 555-01xx range; `peerline up` runs
notify's logging text adapter, so each peer has a working channel and matching keeps offering to them)
and the display name and work channels members see once a peer accepts. Through the services' own HTTP
APIs, as each peer (a dev token), like a person would; safe to run again (skips peers already done)."""

from __future__ import annotations

import time

import httpx

from shared.auth import mint
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


def seed_people(private_key_pem: bytes, notify_url: str, matching_url: str) -> int:
    """Contact points and profiles for every demo peer that has none yet; returns how many were added."""
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
    return added
