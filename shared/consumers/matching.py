from shared.consumers import ASSIGNMENT
from shared.contracts import intake, tracking
from shared.contracts.base import Event, events_of
from shared.topology import Consumer

DIRECTORY: tuple[type[Event], ...] = (
    *events_of("peer"),
    *events_of("reach"),
    intake.CriticalIncidentReported,
    intake.IncidentRespondersAdded,
    *ASSIGNMENT,
    intake.RequestCancelled,
    tracking.CaseClosed,
)

CONSUMERS = (
    Consumer.of(
        "matching-directory",
        DIRECTORY,
        description="matching's peer directory, open assignments, incident crews and timers",
        read_all=True,  # wants much of the log: skipping in the client beats nine server-side filters
        replay_filtered=True,  # but only a quarter of it: a replay lets the server skip the rest
    ),
    Consumer.of(
        "matching-assigner",
        (intake.SupportRequested,),
        description="matching's reactor: assign a peer to each new request (shared by every replica)",
    ),
)


# The durables an extra matching process with its own (SQLite) database may read its directory from;
# matching's bus identity may use these and no others (shared.buspolicy).
REPLICA_DURABLES = ("matching-directory-b", "matching-directory-c", "matching-directory-d")


def directory_replica(durable: str) -> Consumer:
    """The directory view for one more matching process with its own (SQLite) database. Not provisioned
    by default: whoever runs such a replica provisions its consumer (replicas sharing PostgreSQL share
    `matching-directory` instead, with one active writer)."""
    if durable not in REPLICA_DURABLES:
        raise ValueError(f"a directory replica reads one of {', '.join(REPLICA_DURABLES)}")
    return Consumer.of(
        durable,
        DIRECTORY,
        description="matching's directory for an extra replica",
        read_all=True,
        replay_filtered=True,
    )
