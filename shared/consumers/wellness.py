from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "wellness-view",
        (
            "ev.*.peer.>",
            "ev.*.incident.>",
            "ev.*.followup.>",
            "ev.*.debrief.>",
            "ev.*.exposure.>",
            "ev.*.lodd_alert.>",
            "ev.*.case.*.peer_assigned",
            "ev.*.case.*.assignment_declined",
            "ev.*.case.*.assignment_expired",
            "ev.*.case.*.request_cancelled",
            "ev.*.case.*.contact_logged",
            "ev.*.case.*.case_closed",
        ),
        description="wellness's view: peer load inputs, follow-ups, offers, exposure, and its timers",
        read_all=True,  # wants much of the log: skipping in the client beats twelve server-side filters
    ),
)
