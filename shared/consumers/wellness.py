from shared.contracts.base import events_of
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
    RequestCancelled,
)
from shared.contracts.matching import (
    AssignmentDeclined,
    AssignmentExpired,
    PeerActivated,
    PeerApplied,
    PeerAssigned,
    PeerEnrolled,
)
from shared.contracts.tracking import CaseClosed, ContactLogged
from shared.contracts.wellness import (
    ExposureCheckinOffered,
    LineOfDutyDeathAlerted,
    PeerBreakEnded,
    PeerBreakRequested,
    PeerOverloaded,
    PeerRecovered,
)
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "wellness-view",
        (
            PeerEnrolled,
            PeerApplied,
            PeerActivated,
            PeerOverloaded,
            PeerRecovered,
            PeerBreakRequested,
            PeerBreakEnded,
            CriticalIncidentReported,
            IncidentRespondersAdded,
            IncidentFlagsRaised,
            *events_of("followup"),
            *events_of("debrief"),
            ExposureCheckinOffered,
            LineOfDutyDeathAlerted,
            PeerAssigned,
            AssignmentDeclined,
            AssignmentExpired,
            RequestCancelled,
            ContactLogged,
            CaseClosed,
        ),
        description="wellness's view: peer load inputs, follow-ups, offers, exposure, and its timers",
        read_all=True,  # wants much of the log: skipping in the client beats twelve server-side filters
    ),
)
