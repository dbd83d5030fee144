from shared.contracts.base import events_of
from shared.contracts.escalation import EscalationResolved, EscalationTierAdvanced, EscalationTriggered
from shared.contracts.intake import RequestCancelled
from shared.contracts.matching import CoordinatorAlerted, PeerAssigned
from shared.contracts.wellness import ExposureCheckinOffered, FollowupDue, FollowupOverdue, PeerOverloaded
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "notify-inbox",
        (
            PeerAssigned,
            CoordinatorAlerted,
            RequestCancelled,
            EscalationTriggered,
            EscalationTierAdvanced,
            EscalationResolved,
            FollowupDue,
            FollowupOverdue,
            *events_of("debrief"),
            ExposureCheckinOffered,
            PeerOverloaded,
        ),
        ack_wait_s=10.0,  # a page a crashed instance had fetched comes back within 10 s
        description="notify's inbox: events that someone must be told about, queued once per event",
        read_all=True,  # eleven filters: skipping in the client beats server-side multi-filtering
    ),
)
