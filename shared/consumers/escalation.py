from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "escalation-view",
        ("ev.*.policy.>", "ev.*.escalation.>", "ev.*.member.*.identity_disclosed"),
        description="escalation's read model: policies, escalations, tier deadlines, the audit chain",
    ),
    Consumer(
        "escalation-notifier",
        ("ev.*.escalation.>",),
        description="escalation's pager: each tier paged on notify.<agency>.<role>",
    ),
    Consumer(
        "escalation-riskflags",
        ("ev.*.case.*.contact_logged",),
        description="escalation's reactor: a contact logged with a risk flag raises a concern",
    ),
)
