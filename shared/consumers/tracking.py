from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "tracking-trends",
        (
            "ev.*.case.>",
            "ev.*.followup.>",
            "ev.*.debrief.>",
            "ev.*.incident.*.critical_incident_reported",
        ),
        description="tracking's anonymous leadership counts",
        read_all=True,  # wants nearly all of the log: skipping in the client beats server-side filters
    ),
    Consumer(
        "tracking-audit",
        ("ev.*.case.>", "ev.*.followup.>", "ev.*.escalation.>"),
        description="tracking's coordinator audit timeline (no content)",
        read_all=True,
    ),
)
