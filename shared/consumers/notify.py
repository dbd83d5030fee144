from shared.contracts import escalation, intake, matching, wellness
from shared.contracts.base import events_of
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "notify-inbox",
        (
            matching.PeerAssigned,
            matching.CoordinatorAlerted,
            intake.RequestCancelled,
            escalation.EscalationTriggered,
            escalation.EscalationTierAdvanced,
            escalation.EscalationResolved,
            wellness.FollowupDue,
            wellness.FollowupOverdue,
            *events_of("debrief"),
            *events_of("exposure"),
            wellness.PeerOverloaded,
        ),
        ack_wait_s=10.0,  # a page a crashed instance had fetched comes back within 10 s
        description="notify's inbox: events that someone must be told about, queued once per event",
        read_all=True,  # eleven filters: skipping in the client beats server-side multi-filtering
    ),
)
