"""The first incident after a start should cost what the hundredth does.

SQLAlchemy compiles a statement the first time it runs, and a fresh pool opens its connections on first
use: paid by the first incidents, that is tens of milliseconds on their way to an offer. `warm_up` runs
an incident's whole path through the view — recording the people, the offer timer, the worker's reads,
the offers coming back — inside one transaction that is rolled back: it leaves nothing behind but the
compiled statements.
"""

from __future__ import annotations

from sqlalchemy import Engine

from services.wellness import domain, queries
from services.wellness.commands import SOURCE
from services.wellness.domain.policy import Policies
from services.wellness.projection import WellnessProjection
from shared.clock import Clock
from shared.contracts.intake import CriticalIncidentReported, IncidentFlags, Involved
from shared.envelope import Envelope

NAME = "warm-up"  # agency, incident and member of the rehearsal (rolled back, never in the log)


def warm_up(engine: Engine, projection: WellnessProjection, policies: Policies, clock: Clock) -> None:
    now = clock.now()
    person = Involved(member_ref=NAME, agency=NAME, role="responder")
    cad = CriticalIncidentReported(
        incident_type=NAME, agencies=(NAME,), flags=IncidentFlags(), involved=(person,)
    )
    policy = policies.of(NAME)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            projection.apply(
                conn, Envelope.wrap(cad, agency=NAME, subject=NAME, source=SOURCE, time=now), cad, 0
            )
            for row in queries.waiting_offers(conn, NAME, NAME):
                queries.exposure_counts(conn, [row["member_ref"]], now, policy.exposure_window)
                offers = domain.offer_debrief(
                    domain.Debrief(),
                    incident_agency=NAME,
                    incident_id=NAME,
                    reported_at=now,
                    flags=cad.flags,
                    person=person,
                    policy=policy,
                )
                for event in offers:
                    env = Envelope.wrap(event, agency=NAME, subject=row["offer_id"], source=SOURCE, time=now)
                    projection.apply(conn, env, event, 0)
        finally:
            tx.rollback()
