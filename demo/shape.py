"""How much happens when, and how it tends to go: the synthetic region's parameters and rhythms. Plain data
and arithmetic on a seeded `random.Random`; no I/O and no clock."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from services.tracking.domain import Outcome
from shared.contracts.matching import DeclineReason
from shared.contracts.tracking import Category, ContactMode, DurationBucket, Referral

T = TypeVar("T")
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Region:
    """Who, when and how busy. `requests_per_week` is one agency's mean; the rhythm moves it ±40%."""

    agencies: tuple[str, ...]
    start: datetime
    weeks: int = 52
    requests_per_week: float = 14.0
    incidents_per_month: float = 2.0
    responders: int = 150  # members per agency who can be on an incident (pseudonyms only)
    seed: int = 17

    @property
    def end(self) -> datetime:
        return self.start + self.weeks * WEEK


def rhythm(moment: datetime) -> float:
    """Relative demand: higher in midwinter (the holidays) and late summer, lower in spring; Mondays and
    Tuesdays above the weekend. Mean about 1."""
    day = moment.timetuple().tm_yday
    season = (
        1.0
        + 0.25 * math.cos(2 * math.pi * (day - 355) / 365)
        + 0.12 * math.cos(4 * math.pi * (day - 230) / 365)
    )
    weekday = (1.25, 1.2, 1.05, 1.0, 0.95, 0.75, 0.8)[moment.weekday()]
    return season * weekday


def arrivals(rng: random.Random, start: datetime, end: datetime, per_week: float) -> list[datetime]:
    """Times of a Poisson process whose rate follows `rhythm` and `daytime`, by thinning."""
    peak = per_week * PEAK / (7 * 24 * 3600)
    out: list[datetime] = []
    t = start
    while True:
        t += timedelta(seconds=rng.expovariate(peak))
        if t >= end:
            return out
        if rng.random() * PEAK < rhythm(t) * daytime(t):
            out.append(t)


HOURS = (0.35, 0.3, 0.3, 0.3, 0.4, 0.6, 0.8, 1.0, 1.2, 1.3, 1.3, 1.3)  # two-hour steps from 06:00 UTC
PEAK = 3.0  # above the largest rhythm × daytime


def daytime(moment: datetime) -> float:
    """People ask more by day and in the evening than at night (UTC, roughly a North American day);
    mean 1 over a day."""
    return HOURS[((moment.hour + 18) % 24) // 2] * len(HOURS) / sum(HOURS)


def pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


CATEGORIES: tuple[tuple[Category, float], ...] = (
    ("operational_stress", 30),
    ("critical_incident", 14),
    ("family_relationship", 18),
    ("work_conflict", 12),
    ("grief", 7),
    ("health", 7),
    ("substance_use", 4),
    ("financial", 5),
    ("other", 3),
)
MODES: tuple[tuple[ContactMode, float], ...] = (("phone", 45), ("in_person", 35), ("text", 12), ("video", 8))
DURATIONS: tuple[tuple[DurationBucket, float], ...] = (
    ("under_15m", 15),
    ("15_30m", 35),
    ("30_60m", 35),
    ("over_60m", 15),
)
REFERRALS: tuple[tuple[Referral, float], ...] = (("none", 78), ("eap", 12), ("clinician", 7), ("chaplain", 3))
CLOSE_OUTCOMES: tuple[tuple[Outcome, float], ...] = (("supported", 85), ("referred", 15))
DECLINES: tuple[tuple[DeclineReason, float], ...] = (
    ("unavailable", 5),
    ("overloaded", 2),
    ("not_my_skill", 1),
    ("conflict", 1),
)
INCIDENTS = (  # (CAD type, flag it raises, weight)
    ("structure fire", "mayday", 3),
    ("traffic collision", "child_victim", 4),
    ("cardiac arrest", "failed_resuscitation", 5),
    ("shooting", "officer_involved_shooting", 2),
    ("rescue", "serious_injury_to_responder", 3),
    ("multiple casualty", "mass_casualty", 1),
    ("death investigation", "victim_known_to_responders", 2),
)


def categories(rng: random.Random, moment: datetime, after_incident: bool) -> tuple[Category, ...]:
    """One to three categories; family and grief rise around the holidays, critical incident after one."""
    weights = dict(CATEGORIES)
    if moment.month in (12, 1):
        weights["family_relationship"] *= 1.6
        weights["grief"] *= 1.5
    if after_incident:
        weights["critical_incident"] *= 6
    chosen = {pick(rng, tuple(weights.items()))}
    while len(chosen) < 3 and rng.random() < 0.35:
        chosen.add(pick(rng, tuple(weights.items())))
    return tuple(sorted(chosen))


def minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=rng.uniform(low, high))
