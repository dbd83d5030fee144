from __future__ import annotations

from pathlib import Path

from shared.settings import ServiceSettings


class WellnessSettings(ServiceSettings):
    service: str = "wellness"
    http_host: str = "127.0.0.1"
    http_port: int = 8085
    policy_file: Path | None = None  # PEERLINE_POLICY_FILE: per-agency policy JSON (see policy.py)
    timer_poll_s: float = 0.25
    timer_concurrency: int = 16  # timers fired at once
    timer_retry_s: float = 10.0  # a timer whose firing failed is tried again after this long
    timer_attempts: int = 5  # ... this many times, then it goes to PEERLINE_DLQ with the reason
    load_sweep_s: float = 5.0  # how often every peer's load is re-evaluated (time moves counts)
