from __future__ import annotations

from pathlib import Path

from services.matching.domain.peers import Policy
from shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service: str = "matching"
    http_host: str = "127.0.0.1"
    http_port: int = 8082
    max_deliveries: int = 5
    # Per-agency policy, e.g. PEERLINE_POLICIES='{"riverton-fire": {"respond_within_minutes": 10}}'.
    policies: dict[str, Policy] = {}
    default_policy: Policy = Policy()
    # A second replica runs its own directory consumer (each replica needs the whole directory).
    directory_consumer: str = "matching-directory"
    timer_poll_s: float = 0.25
    # base64 of 32 bytes sealing peers' published profiles. Unset: a development key under <var_dir>/keys.
    profile_key_file: Path | None = None
    # Concurrent fetch → decide → append loops on the shared durable (decisions see each other's
    # in-flight picks through the assigner's ledger, so fairness holds across them).
    reactor_loops: int = 2
    reactor_batch: int = 128
    # Batches each loop may have being written while it fetches and decides the next.
    reactor_in_flight: int = 4
    # The directory projection and snapshots run in threads as well (ServiceSettings.switch_interval_s)
    switch_interval_s: float = 0.0005

    def policy(self, agency: str) -> Policy:
        return self.policies.get(agency, self.default_policy)
