from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "notify-inbox",
        (
            "ev.*.case.*.peer_assigned",
            "ev.*.case.*.coordinator_alerted",
            "ev.*.case.*.request_cancelled",
            "ev.*.escalation.*.escalation_triggered",
            "ev.*.escalation.*.escalation_tier_advanced",
            "ev.*.escalation.*.escalation_resolved",
            "ev.*.followup.*.followup_due",
            "ev.*.followup.*.followup_overdue",
            "ev.*.debrief.>",
            "ev.*.exposure.*.exposure_checkin_offered",
            "ev.*.peer.*.peer_overloaded",
        ),
        ack_wait_s=10.0,  # a page a crashed instance had fetched comes back within 10 s
        description="notify's inbox: events that someone must be told about, queued once per event",
        read_all=True,  # eleven filters: skipping in the client beats server-side multi-filtering
    ),
)
