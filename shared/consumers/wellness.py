from shared.contracts import intake, matching, tracking, wellness
from shared.contracts.base import events_of
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "wellness-view",
        (
            matching.PeerEnrolled,
            matching.PeerApplied,
            matching.PeerActivated,
            wellness.PeerOverloaded,
            wellness.PeerRecovered,
            wellness.PeerBreakRequested,
            wellness.PeerBreakEnded,
            *events_of("incident"),
            *events_of("followup"),
            *events_of("debrief"),
            *events_of("exposure"),
            *events_of("lodd_alert"),
            matching.PeerAssigned,
            matching.AssignmentDeclined,
            matching.AssignmentExpired,
            intake.RequestCancelled,
            tracking.ContactLogged,
            tracking.CaseClosed,
        ),
        description="wellness's view: peer load inputs, follow-ups, offers, exposure, and its timers",
        read_all=True,  # wants much of the log: skipping in the client beats twelve server-side filters
    ),
)
