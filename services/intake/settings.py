from __future__ import annotations

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service: str = "intake"
    http_host: str = "127.0.0.1"
    http_port: int = 8081
