from __future__ import annotations

from pathlib import Path
from typing import Literal

from services.notify.sealing import dev_key, read_key
from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service: str = "notify"
    http_host: str = "127.0.0.1"
    http_port: int = 8086
    # base64 of 32 bytes sealing every contact point. Unset: a development key under <var_dir>/keys.
    notify_key_file: Path | None = None
    # Web Push: the VAPID private key (PEM; made under <var_dir>/keys if unset) and its contact subject
    vapid_key_file: Path | None = None
    vapid_subject: str = "mailto:peer-program@example.org"
    # E-mail: an SMTP relay. Unset host: e-mail is not a working channel.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "Peerline <no-reply@peerline.invalid>"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # Text messages: "log" is the development adapter (logs, sends nothing); "none" turns texts off.
    sms_adapter: Literal["none", "log"] = "none"
    # Where deep links lead (the console)
    link_base: str = "http://127.0.0.1:8080"
    # A failed delivery is tried again after each of these many seconds, then dead-lettered.
    retry_backoff_s: list[float] = [1.0, 5.0, 30.0, 120.0]
    http_timeout_s: float = 5.0
    poll_s: float = 0.2
    # Events older than this when first seen (a first start on a long log) announce nothing.
    stale_after_s: float = 6 * 3600.0

    def key(self) -> bytes:
        return read_key(self.notify_key_file or dev_key(self.var_dir / "keys"))

    def vapid_path(self) -> Path:
        return self.vapid_key_file or self.var_dir / "keys" / "vapid.pem"

    def channels(self) -> tuple[str, ...]:
        found = ["push", "webhook"]
        if self.smtp_host:
            found.append("email")
        if self.sms_adapter != "none":
            found.append("sms")
        return tuple(found)
