from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from services.intake.vault.keys import Keyring, dev_kek, read_kek
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service: str = "intake"
    http_host: str = "127.0.0.1"
    http_port: int = 8081
    # The vault's tables (data keys, roster, referrals) are not a projection: `replay` never touches them.
    # Default: intake's database (PEERLINE_DATABASE_URL) if set, else var/intake-vault.db. Back it up.
    vault_database_url: str = ""
    # base64 of 32 bytes. Unset: a development KEK under <var_dir>/keys is used (made if absent).
    kek_file: Path | None = None
    # KEKs being rotated away: still unwrap until `python -m services.intake rotate-kek` (or intake's start)
    # rewraps. A listed file that does not exist is skipped (the deployments' optional rotation slot).
    previous_kek_files: list[Path] = []
    agency_policy_file: Path | None = None
    cad_max_deliveries: int = 5
    # Writes (POST) in flight at once; beyond it intake answers 503 + Retry-After instead of queueing.
    max_inflight: int = 256

    def vault_db_url(self) -> str:
        return self.vault_database_url or self.database_url or f"sqlite:///{self.var_dir}/intake-vault.db"

    @field_validator("previous_kek_files")
    @classmethod
    def _filled_slots(cls, files: list[Path]) -> list[Path]:
        """An absent file is an empty rotation slot (the deployments' optional Secret outside a rotation):
        no key, not an error."""
        return [f for f in files if f.exists()]

    def keyring(self) -> Keyring:
        path = self.kek_file or dev_kek(self.var_dir / "keys")
        return Keyring(read_kek(path), tuple(read_kek(p) for p in self.previous_kek_files))
