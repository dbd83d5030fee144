from __future__ import annotations

from shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service: str = "matching"
    max_deliveries: int = 5
