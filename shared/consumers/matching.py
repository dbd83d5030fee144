from shared.topology import Consumer

_DIRECTORY = (
    "ev.*.peer.>",
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
    ),
    Consumer(
        "matching-directory-b",
        _DIRECTORY,
        description="the same view for a second matching replica (each replica needs the whole directory)",
    ),
    Consumer(
        "matching-assigner",
        ("ev.*.case.*.support_requested",),
        description="matching's reactor: assign a peer to each new request (shared by every replica)",
    ),
)
