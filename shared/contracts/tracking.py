"""Events produced by tracking: coded contact reports and case closure. No names, no free text."""

from __future__ import annotations

from typing import Literal

from shared.contracts.base import Event, event

ContactMode = Literal["in_person", "phone", "text", "video"]
Category = Literal[
    "critical_incident",
    "operational_stress",
    "family_relationship",
    "grief",
    "substance_use",
    "financial",
    "health",
    "work_conflict",
    "other",
]
DurationBucket = Literal["under_15m", "15_30m", "30_60m", "over_60m"]
Referral = Literal["none", "eap", "clinician", "chaplain"]


@event("contact_logged", aggregate="case")
class ContactLogged(Event):
    """The assigned peer reported an interaction, in codes only."""

    peer_ref: str
    week: str  # ISO week, e.g. 2026-W48
    mode: ContactMode
    categories: tuple[Category, ...]
    duration: DurationBucket
    referral: Referral = "none"
    followup_wanted: bool = False
    risk_flag: bool = False
    initial: bool = True


@event("case_closed", aggregate="case")
class CaseClosed(Event):
    by: Literal["peer", "coordinator"] = "coordinator"
    outcome: Literal["supported", "referred", "declined", "no_contact"] = "supported"
