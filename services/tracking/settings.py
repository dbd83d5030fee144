from __future__ import annotations

from pydantic import Field, field_validator

from services.tracking.domain.suppression import MINIMUM_THRESHOLD
from shared.settings import ServiceSettings


class TrackingSettings(ServiceSettings):
    service: str = "tracking"
    http_host: str = "127.0.0.1"
    http_port: int = 8084
    # Per agency, the smallest count a report may show, as JSON:
    # PEERLINE_SUPPRESSION_THRESHOLDS='{"cfd": 20}'. Raise-only: nothing below 11 is accepted.
    suppression_thresholds: dict[str, int] = {}
    # A contact may be reported for the current ISO week or this many before it (never into an ended,
    # published quarter).
    contact_window_weeks: int = Field(default=2, ge=0, le=12)

    @field_validator("suppression_thresholds")
    @classmethod
    def _raise_only(cls, value: dict[str, int]) -> dict[str, int]:
        for agency, threshold in value.items():
            if threshold < MINIMUM_THRESHOLD:
                raise ValueError(
                    f"suppression_thresholds.{agency}: may only raise the minimum of {MINIMUM_THRESHOLD}"
                )
        return value

    def threshold(self, agency: str | None = None) -> int:
        """An agency's threshold; for a regional roll-up (None), the strictest of all agencies."""
        if agency is None:
            return max([MINIMUM_THRESHOLD, *self.suppression_thresholds.values()])
        return max(MINIMUM_THRESHOLD, self.suppression_thresholds.get(agency, MINIMUM_THRESHOLD))
