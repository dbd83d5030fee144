"""Two contrasting default policies, and which demo agency starts under which. Plain data.

`broad-duty`: any threat of self-harm, an admitted crime and duty refusal that endangers others may all be
disclosed without consent; three tiers (clinician → coordinator → command).
`narrow-duty`: self-harm only with a stated intent and a plan; an admitted crime and duty refusal stay
confidential; two tiers (clinician → coordinator).
"""

from __future__ import annotations

from services.escalation.domain import Policy
from shared.contracts.escalation import ALL_CATEGORIES, DisclosurePolicyRecorded, Tier

BROAD = DisclosurePolicyRecorded(
    policy_version=1,
    jurisdiction="broad-duty",
    categories=ALL_CATEGORIES,
    disclosable=ALL_CATEGORIES,
    self_harm_requires="any_threat",
    chain=(
        Tier(role="clinician", ack_within_s=600),
        Tier(role="coordinator", ack_within_s=600),
        Tier(role="command", ack_within_s=900),
    ),
)

NARROW = DisclosurePolicyRecorded(
    policy_version=1,
    jurisdiction="narrow-duty",
    categories=ALL_CATEGORIES,
    disclosable=(
        "imminent_self_harm",
        "threat_to_identifiable_person",
        "mandated_reporting",
        "court_order",
        "written_consent",
    ),
    self_harm_requires="intent_and_plan",
    chain=(Tier(role="clinician", ack_within_s=600), Tier(role="coordinator", ack_within_s=900)),
)

DEFAULTS = {"broad-duty": BROAD, "narrow-duty": NARROW}
DEMO_REGION = {"riverton-fire": BROAD, "riverton-police": BROAD, "county-ems": NARROW}

# A risk flag in an agency that has recorded no policy still pages someone, and discloses nothing.
FALLBACK = Policy(
    version=0,
    jurisdiction="none-recorded",
    categories=ALL_CATEGORIES,
    disclosable=(),
    chain=(Tier(role="clinician", ack_within_s=600), Tier(role="coordinator", ack_within_s=600)),
)
