"""Wellness rules. Pure: plain data and times in, events out, every decision explained.

Four small aggregates: a peer's load and breaks (`peer`, shared with matching's directory events),
one follow-up (`followup`), one debrief offer to one person for one incident (`debrief`), and one
responder's cumulative exposure (`exposure`). Their ids are derived deterministically, so a second
decision for the same thing meets an existing aggregate and produces nothing.
"""

from services.wellness.domain.common import (
    Rejected,
    debrief_id,
    exposure_id,
    followup_id,
    lodd_alert_id,
)
from services.wellness.domain.followups import (
    Followup,
    complete_followup,
    decide_due,
    decide_overdue,
    evolve_followup,
    plan_followups,
)
from services.wellness.domain.load import (
    Explanation,
    Load,
    PeerState,
    break_expired,
    decide_load,
    end_break,
    evolve_peer,
    explain,
    over_threshold,
    recovers_at,
    request_break,
)
from services.wellness.domain.offers import (
    Debrief,
    Exposure,
    alert_line_of_duty_death,
    answer_debrief,
    decide_exposure,
    evolve_debrief,
    evolve_exposure,
    offer_debrief,
    rule_for,
)
from shared.contracts.base import Event

__all__ = [
    "Debrief",
    "Event",
    "Explanation",
    "Exposure",
    "Followup",
    "Load",
    "PeerState",
    "Rejected",
    "alert_line_of_duty_death",
    "answer_debrief",
    "break_expired",
    "complete_followup",
    "debrief_id",
    "decide_due",
    "decide_exposure",
    "decide_load",
    "decide_overdue",
    "end_break",
    "evolve_debrief",
    "evolve_exposure",
    "evolve_followup",
    "evolve_peer",
    "explain",
    "exposure_id",
    "followup_id",
    "lodd_alert_id",
    "offer_debrief",
    "over_threshold",
    "plan_followups",
    "recovers_at",
    "request_break",
    "rule_for",
]
