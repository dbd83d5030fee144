"""What Peerline reads of a NIEM person (`ncPersonComponent` of an EIDO person): age and condition.

NIEM values arrive as arrays of small objects (`ageMeasure: [{"measureValue": 7, …}]`, `birthDate:
[{"date": "2019-02-01"}]`, `isLiving: [{"value": false}]`); the reader takes the scalar leaves of
each and never fails on a shape it does not know (the field is then simply unknown). Pure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

# words of a CAD or NIEM condition / injury text → Peerline's condition, most severe first
CONDITION_WORDS = (
    ("resusc", "resuscitation_failed"),
    ("deceased", "deceased"),
    ("dead", "deceased"),
    ("fatal", "deceased"),
    ("critical", "critical"),
    ("serious", "serious"),
    ("uninjured", "uninjured"),
    ("injur", "injured"),
)
SHORT_UNITS = {"mon", "month", "months", "wee", "week", "weeks", "day", "days", "d", "wk", "mo"}


def leaves(value: Any) -> list[Any]:
    """Every scalar inside a NIEM value (lists and objects walked, depth-limited)."""
    out: list[Any] = []

    def walk(v: Any, depth: int) -> None:
        if depth > 6 or len(out) > 200:
            return
        if isinstance(v, dict):
            for item in v.values():
                walk(item, depth + 1)
        elif isinstance(v, list):
            for item in v:
                walk(item, depth + 1)
        elif v is not None:
            out.append(v)

    walk(value, 0)
    return out


def condition_of(text: str | None) -> str | None:
    t = (text or "").lower()
    for word, cond in CONDITION_WORDS:
        if word in t:
            return cond
    return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _date(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def age(person: dict[str, Any], on: date | None) -> int | None:
    """Age in years: from `ageMeasure` (months, weeks or days count as under one year), else from
    `birthDate` at the incident's date."""
    measure = leaves(person.get("ageMeasure"))
    if any(str(v).strip().lower() in SHORT_UNITS for v in measure):
        return 0
    for v in measure:
        n = _number(v)
        if n is not None and 0 <= n <= 130:
            return int(n)
    if on is not None:
        for v in leaves(person.get("birthDate")):
            born = _date(v)
            if born is not None and born <= on:
                return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return None


def condition(person: dict[str, Any]) -> str:
    """The most severe of: the words of injuries and medical conditions (a failed resuscitation
    first), deceased (not living, or a death date), injured (an injury recorded); else uninjured."""
    texts = leaves(person.get("injury")) + leaves(person.get("medicalCondition"))
    found = [c for c in (condition_of(str(t)) for t in texts) if c]
    living = leaves(person.get("isLiving"))
    if any(v is False or str(v).lower() == "false" for v in living) or leaves(person.get("deathDate")):
        found.append("deceased")
    for _, cond in CONDITION_WORDS:
        if cond in found:
            return cond
    return "injured" if person.get("injury") else "uninjured"
