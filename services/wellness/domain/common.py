"""What every wellness rule shares: rejection, and deterministic aggregate ids."""

from __future__ import annotations

import hashlib


class Rejected(Exception):
    """The command cannot be carried out in the aggregate's current state."""


def _key(prefix: str, *parts: str) -> str:
    return f"{prefix}-{hashlib.sha256('/'.join(parts).encode()).hexdigest()[:32]}"


def followup_id(case_id: str, n: int) -> str:
    return _key("f", case_id, str(n))


def debrief_id(incident_agency: str, incident_id: str, member_ref: str) -> str:
    return _key("d", incident_agency, incident_id, member_ref)


def exposure_id(member_ref: str) -> str:
    return _key("x", member_ref)


def lodd_alert_id(incident_agency: str, incident_id: str, agency: str) -> str:
    return _key("l", incident_agency, incident_id, agency)
