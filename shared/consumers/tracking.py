from shared.contracts.base import events_of
from shared.contracts.escalation import (
    EscalationAcknowledged,
    EscalationResolved,
    EscalationTierAdvanced,
    EscalationTriggered,
)
from shared.contracts.intake import CriticalIncidentReported, RequestCancelled, SupportRequested
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    PeerAssigned,
    RequestUnmatched,
)
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import (
    DebriefAccepted,
    DebriefDeclined,
    DebriefOffered,
    FollowupCompleted,
    FollowupScheduled,
)
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "tracking-trends",
        (
            SupportRequested,
            PeerAssigned,
            ContactLogged,
            CaseClosed,
            RequestCancelled,
            FollowupScheduled,
            FollowupCompleted,
            DebriefOffered,
            DebriefAccepted,
            DebriefDeclined,
            CriticalIncidentReported,
        ),
        description="tracking's anonymous leadership counts",
        read_all=True,  # wants nearly all of the log: skipping in the client beats server-side filters
    ),
    Consumer.of(
        "tracking-audit",
        (
            SupportRequested,
            PeerAssigned,
            AssignmentAccepted,
            AssignmentDeclined,
            AssignmentExpired,
            RequestUnmatched,
            RequestCancelled,
            ContactLogged,
            CaseClosed,
            *events_of("followup"),
            EscalationTriggered,
            EscalationTierAdvanced,
            EscalationAcknowledged,
            EscalationResolved,
        ),
        description="tracking's coordinator audit timeline (no content)",
        read_all=True,
    ),
)
