from shared.consumers import ASSIGNMENT
from shared.contracts import escalation, intake, matching, tracking, wellness
from shared.contracts.base import events_of
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "tracking-trends",
        (
            intake.SupportRequested,
            matching.PeerAssigned,
            tracking.ContactLogged,
            tracking.CaseClosed,
            intake.RequestCancelled,
            wellness.FollowupScheduled,
            wellness.FollowupCompleted,
            *events_of("debrief"),
            intake.CriticalIncidentReported,
        ),
        description="tracking's anonymous leadership counts",
        read_all=True,  # wants nearly all of the log: skipping in the client beats server-side filters
    ),
    Consumer.of(
        "tracking-audit",
        (
            intake.SupportRequested,
            *ASSIGNMENT,
            intake.RequestCancelled,
            tracking.ContactLogged,
            tracking.CaseClosed,
            *events_of("followup"),
            escalation.EscalationTriggered,
            escalation.EscalationTierAdvanced,
            escalation.EscalationAcknowledged,
            escalation.EscalationResolved,
        ),
        description="tracking's coordinator audit timeline (no content)",
        read_all=True,
    ),
)
