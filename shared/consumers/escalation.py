from shared.contracts import escalation, intake, notify, tracking
from shared.contracts.base import events_of
from shared.topology import Consumer

CONSUMERS = (
    Consumer.of(
        "escalation-view",
        (*events_of("policy"), *events_of("escalation"), intake.IdentityDisclosed),
        ack_wait_s=10.0,  # what a crashed instance had fetched comes back within 10 s: deadlines stay close
        description="escalation's read model: policies, escalations, tier deadlines, the audit chain",
    ),
    Consumer.of(
        "escalation-notifier",
        (escalation.EscalationTierAdvanced,),
        ack_wait_s=10.0,  # a page lost with a crashed instance is sent again within 10 s
        description="escalation's pager: each later tier put on duty is paged on notify.<agency>.<role>"
        " (tier 1 is paged by the reaction that raises the escalation)",
    ),
    Consumer.of(
        "escalation-riskflags",
        (tracking.ContactLogged,),
        description="escalation's reactor: a contact logged with a risk flag raises a concern",
    ),
    Consumer.of(
        "escalation-missedpages",
        (notify.PageMissed,),
        description="escalation's reactor: a page that reached nobody pages the next tier at once",
    ),
)
