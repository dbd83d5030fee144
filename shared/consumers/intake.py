from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "intake-cases", ("ev.*.case.>",), description="intake's case projection (status for requesters)"
    ),
)
