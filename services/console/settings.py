"""The console's configuration: where the services are, how people sign in, how cookies are set."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from shared.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    service: str = "console"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    intake_url: str = "http://127.0.0.1:8081"
    matching_url: str = "http://127.0.0.1:8082"
    escalation_url: str = "http://127.0.0.1:8083"
    tracking_url: str = "http://127.0.0.1:8084"
    wellness_url: str = "http://127.0.0.1:8085"
    notify_url: str = "http://127.0.0.1:8086"
    # "dev": a sign-in page listing the demo people, tokens minted with the key under <var_dir>/keys.
    # "oidc": the agency's identity provider (authorization code + PKCE), found from its issuer URL.
    sign_in: Literal["dev", "oidc"] = "dev"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    # The `__Host-` cookie needs Secure; browsers treat http://127.0.0.1 and http://localhost as secure.
    session_ttl_s: int = 12 * 3600
    http_timeout_s: float = 5.0
    live_poll_s: float = 2.0
    default_agency: str = "riverton-fire"
    # Where the quick exit lands: set it to a neutral site (a weather page) for your region.
    exit_url: str = "/bye"

    def dev_key_file(self) -> Path:
        return self.var_dir / "keys" / "jwt-signing.pem"

    def service_urls(self) -> dict[str, str]:
        names = ("intake", "matching", "escalation", "tracking", "wellness", "notify")
        return {name: getattr(self, f"{name}_url") for name in names}
