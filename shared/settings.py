"""Configuration common to every service. Each service subclasses it with its own defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.limits import HttpLimits


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEERLINE_", extra="ignore")

    service: str = "peerline"
    nats_url: str = "nats://127.0.0.1:4222"  # several servers of one cluster: comma-separated
    nats_user: str = ""  # the bus identity (shared.buspolicy); default: the service's own
    nats_seed_file: Path | None = None  # that identity's NKey seed
    nats_ca_file: Path | None = None  # CA bundle for a `tls://` NATS URL
    database_url: str = ""
    var_dir: Path = Path("var")
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  # 0 = no ops server (tests)
    jwt_public_key_file: Path | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "peerline-dev"
    jwt_audience: str = "peerline"
    max_body_bytes: int = 64 * 1024  # a larger HTTP body is refused with 413 before it is parsed
    rate_per_minute: int = 1200  # HTTP requests per client (a verified principal, else an address)
    rate_burst: int = 100
    codes_file: Path | None = None  # per-agency code lists (units, disciplines): see shared/codes.py
    # The GIL's switch interval. Projections write and spans are exported in worker threads; shorter than
    # Python's 5 ms, the event loop (consumers forwarding pages, offers) takes the GIL back sooner.
    switch_interval_s: float = 0.001

    def http_limits(self) -> HttpLimits:
        return HttpLimits(self.max_body_bytes, self.rate_per_minute, self.rate_burst)

    def bus_identity(self) -> str:
        return self.nats_user or self.service

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir}/{self.service}.db"
