from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "matching-directory",
        ("ev.*.peer.>", "ev.*.case.*.peer_assigned", "ev.*.case.*.request_cancelled"),
        description="matching's peer directory and active-case counts",
    ),
    Consumer(
        "matching-assigner",
        ("ev.*.case.*.support_requested",),
        description="matching's reactor: assign a peer to each new request",
    ),
)
