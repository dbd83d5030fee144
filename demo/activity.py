"""A region's history: every agency's requests and critical incidents over the region's weeks, played
through the services' own decisions. Pure and deterministic: the same region gives the same events."""

from __future__ import annotations

from collections.abc import Iterator

from demo import shape
from demo.care import Care
from demo.cases import Cases
from demo.engine import Engine, Write
from demo.incidents import Incidents
from demo.roster import Roster, Spec


def history(region: shape.Region, peers: list[Spec], enroll: bool) -> Iterator[Write]:
    """The region's events in time order, each with the bus identity that appends it. `peers`: the peer
    teams (`enroll`: their directory events are part of this history, else already in the log)."""
    engine = Engine(region)
    roster = Roster(engine, peers, enroll)
    care = Care(engine)
    cases = Cases(engine, roster, care)
    incidents = Incidents(engine, cases)
    for i, agency in enumerate(region.agencies):
        care.record_policy(agency, i)
        scale = 0.7 + 0.6 * engine.rng.random()  # agencies differ in size
        for moment in shape.arrivals(engine.rng, region.start, region.end, region.requests_per_week * scale):
            engine.at(moment, cases.request, agency)
        monthly = region.incidents_per_month * scale * 12 / 52
        for moment in shape.arrivals(engine.rng, region.start, region.end, monthly):
            engine.at(moment, incidents.report, agency)
    return engine.run()
