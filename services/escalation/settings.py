from __future__ import annotations

from typing import Literal

from shared.settings import ServiceSettings


class EscalationSettings(ServiceSettings):
    service: str = "escalation"
    http_host: str = "127.0.0.1"
    http_port: int = 8083
    max_deliveries: int = 5
    # A risk flag's page waits on the event loop while the view applies and spans are exported in worker
    # threads: handing the GIL back within 0.2 ms instead of 1 ms took the page's p99 from 18–72 ms to
    # 10–21 ms in `python -m bench.escalation` (3,000 flags at 200/s), at the same CPU per flag
    switch_interval_s: float = 0.0002
    reveal_timeout_s: float = 5.0
    timer_poll_s: float = 0.25
    timer_retry_s: float = 30.0
    # a `contact_logged` risk flag carries no category: escalate it as this one
    risk_flag_category: Literal["imminent_self_harm", "threat_to_identifiable_person"] = "imminent_self_harm"
    # Record the demo region's disclosure policies at start if absent: the embedded stack (`peerline up`,
    # tests), the dev overlay and docker-compose turn it on. Never in production: a region's policies are
    # its regional admin's to set, and nothing demo belongs in its permanent log.
    seed_demo_policies: bool = False
