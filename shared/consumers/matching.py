from shared.topology import Consumer

_DIRECTORY = (
    "ev.*.peer.>",
    "ev.*.reach.>",
    "ev.*.incident.>",
    "ev.*.case.*.peer_assigned",
    "ev.*.case.*.assignment_accepted",
    "ev.*.case.*.assignment_declined",
    "ev.*.case.*.assignment_expired",
    "ev.*.case.*.request_unmatched",
    "ev.*.case.*.request_cancelled",
    "ev.*.case.*.case_closed",
)

CONSUMERS = (
    Consumer(
        "matching-directory",
        _DIRECTORY,
        description="matching's peer directory, open assignments, incident crews and timers",
        read_all=True,  # wants much of the log: skipping in the client beats nine server-side filters
    ),
    Consumer(
        "matching-assigner",
        ("ev.*.case.*.support_requested",),
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
    return Consumer(
        durable, _DIRECTORY, description="matching's directory for an extra replica", read_all=True
    )
