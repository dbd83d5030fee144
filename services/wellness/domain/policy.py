"""Per-agency wellness policy: load thresholds, cool-down, follow-up schedule, debrief offers, exposure.

Plain data (pydantic), read from a JSON file named by `PEERLINE_POLICY_FILE`; durations are ISO 8601
(`"P3D"`, `"PT12H"`) or seconds. `default` applies to every agency without its own entry:

    {"default": {"followup_after": ["P3D", "P30D"]},
     "agencies": {"riverton-fire": {"max_active_cases": 4, "exposure_threshold": 2}}}
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.wellness import DebriefType

DAY, YEAR = timedelta(days=1), timedelta(days=366)  # sane bounds of every duration below
FLAG_ORDER = (
    "line_of_duty_death",
    "colleague_suicide",
    "officer_involved_shooting",
    "mass_casualty",
    "child_victim",
    "serious_injury_to_responder",
    "mayday",
    "victim_known_to_responders",
    "failed_resuscitation",
)


class OfferRule(BaseModel):
    """What is offered and when: the window opens and closes this long after the incident."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offer_type: DebriefType
    opens_after: timedelta = Field(default=timedelta(0), ge=timedelta(0), le=YEAR)
    closes_after: timedelta = Field(gt=timedelta(0), le=YEAR)

    @model_validator(mode="after")
    def _ordered(self) -> OfferRule:
        if self.closes_after <= self.opens_after:
            raise ValueError("closes_after must be later than opens_after")
        return self


DEFUSING = OfferRule(offer_type="defusing", opens_after=timedelta(hours=1), closes_after=timedelta(hours=12))
GROUP_DEBRIEF = OfferRule(
    offer_type="debrief", opens_after=timedelta(hours=24), closes_after=timedelta(hours=72)
)
CHECK_IN = OfferRule(offer_type="check_in", opens_after=timedelta(0), closes_after=timedelta(days=14))


class AgencyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # peer load: overloaded when any count reaches its threshold
    max_active_cases: int = Field(default=5, ge=1, le=100)
    max_contacts_7d: int = Field(default=12, ge=1, le=1_000_000)
    max_personal_incidents: int = Field(default=2, ge=1, le=100)
    personal_incident_window: timedelta = Field(default=timedelta(days=30), ge=DAY, le=YEAR)
    cool_down: timedelta = Field(
        default=timedelta(hours=72),
        ge=timedelta(0),
        le=timedelta(days=90),
        description="an overloaded peer stays out at least this long",
    )
    # follow-ups after a case's initial contact
    followup_after: tuple[Annotated[timedelta, Field(gt=timedelta(0), le=YEAR)], ...] = Field(
        default=(timedelta(days=3), timedelta(days=30)), max_length=10
    )
    followup_grace: timedelta = Field(default=timedelta(days=2), ge=timedelta(0), le=timedelta(days=90))
    # debrief offers: the first flag (in FLAG_ORDER) set on the incident picks the rule
    debrief_rules: dict[str, OfferRule] = Field(
        default_factory=lambda: {
            "line_of_duty_death": GROUP_DEBRIEF,
            "colleague_suicide": GROUP_DEBRIEF,
            "mass_casualty": GROUP_DEBRIEF,
            "officer_involved_shooting": DEFUSING,
            "child_victim": DEFUSING,
            "serious_injury_to_responder": DEFUSING,
            "mayday": DEFUSING,
        }
    )
    debrief_default: OfferRule = CHECK_IN
    # cumulative exposure
    exposure_threshold: int = Field(default=3, ge=1, le=1000)
    exposure_window: timedelta = Field(default=timedelta(days=180), ge=DAY, le=10 * YEAR)

    @model_validator(mode="after")
    def _known_flags(self) -> AgencyPolicy:
        unknown = set(self.debrief_rules) - set(FLAG_ORDER)
        if unknown:
            raise ValueError(f"debrief_rules: unknown incident flags {sorted(unknown)}")
        return self


class Policies(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: AgencyPolicy = AgencyPolicy()
    agencies: dict[str, AgencyPolicy] = {}

    def of(self, agency: str) -> AgencyPolicy:
        return self.agencies.get(agency, self.default)

    @classmethod
    def load(cls, path: Path | None) -> Policies:
        return cls.model_validate_json(path.read_text()) if path else cls()
