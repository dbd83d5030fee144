from shared.topology import Consumer

CONSUMERS = (
    Consumer(
        "escalation-view",
        ("ev.*.policy.>", "ev.*.escalation.>", "ev.*.member.*.identity_disclosed"),
        ack_wait_s=10.0,  # what a crashed instance had fetched comes back within 10 s: deadlines stay close
        description="escalation's read model: policies, escalations, tier deadlines, the audit chain",
    ),
    Consumer(
        "escalation-notifier",
        ("ev.*.escalation.>",),
        ack_wait_s=10.0,  # a page lost with a crashed instance is sent again within 10 s
        description="escalation's pager: each tier paged on notify.<agency>.<role>",
    ),
    Consumer(
        "escalation-riskflags",
        ("ev.*.case.*.contact_logged",),
        description="escalation's reactor: a contact logged with a risk flag raises a concern",
    ),
    Consumer(
        "escalation-missedpages",
        ("ev.*.notice.*.page_missed",),
        description="escalation's reactor: a page that reached nobody pages the next tier at once",
    ),
)
