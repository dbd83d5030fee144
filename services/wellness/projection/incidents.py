"""Wellness's view of critical incidents: who was on each one (by pseudonym), what to offer them and
when, and the timers that make the offers and the line-of-duty-death alerts.

- `offer` (due at once) per incident with people not yet offered a debrief, settled when every one is
  (a responder CAD marks deceased is never offered one);
- the line-of-duty-death alerts owed (`alerts.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from services.wellness.domain import debrief_id
from services.wellness.projection import alerts
from services.wellness.reactions import OFFER
from services.wellness.tables import statements as q
from services.wellness.tables import timers
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlags,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
    Involved,
)
from shared.contracts.wellness import DebriefOffered, LineOfDutyDeathAlerted
from shared.envelope import Envelope
from shared.timers import Timer, cancel, schedule

NOW = datetime(2000, 1, 1, tzinfo=UTC)  # "due at once", whatever any clock says


@dataclass(frozen=True)
class Incident:
    """What the view keeps of a reported incident for its offers: no people of the public, no text."""

    occurred_at: datetime
    flags: str  # IncidentFlags as JSON
    incident_type: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time(value: str | None, fallback: datetime) -> datetime:
    if not value:
        return fallback
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class IncidentView:
    """The incident part of wellness's projection (same transaction, same tables)."""

    def apply(self, conn: Connection, env: Envelope, event: Event) -> bool:
        """Applies an incident or offer event; False for any other event."""
        match event:
            case CriticalIncidentReported():
                at = _time(event.occurred_at, env.time)
                incident = Incident(at, event.flags.model_dump_json(), event.incident_type)
                self._involve(conn, env, incident, event.involved)
                self._alert(conn, env, incident, event.flags.line_of_duty_death)
            case IncidentRespondersAdded():
                first = conn.execute(q.INCIDENT_FIRST, {"i_agency": env.agency, "i_id": env.subject}).first()
                if first is not None:
                    incident = Incident(_aware(first[0]), first[1], first[2])
                    self._involve(conn, env, incident, event.involved)
                    self._alert(conn, env, incident, False)
            case IncidentFlagsRaised():
                self._raised(conn, env, event)
            case DebriefOffered():
                self._offered(conn, env, event)
            case LineOfDutyDeathAlerted():
                alerts.alerted(conn, env, event)
            case _:
                return False
        return True

    def _involve(
        self, conn: Connection, env: Envelope, incident: Incident, people: tuple[Involved, ...]
    ) -> None:
        """Each person not yet on record for the incident is recorded (the first mention wins), with
        the time dispatch reported them; the offer timer is (re)scheduled if any of them waits for one."""
        incident_id = env.subject
        named: dict[str, Involved] = {}
        for person in people:
            named.setdefault(debrief_id(env.agency, incident_id, person.member_ref), person)
        if not named:
            return
        ids = {"ids": list(named)}
        on_record = set(conn.execute(q.INVOLVED_KNOWN, ids).scalars())
        offered = set(conn.execute(q.OFFERS_KNOWN, ids).scalars())
        rows = [
            {
                "offer_id": offer_id,
                "incident_agency": env.agency,
                "incident_id": incident_id,
                "member_ref": person.member_ref,
                "agency": person.agency,
                "role": person.role,
                "occurred_at": incident.occurred_at,
                "flags": incident.flags,
                "offered": offer_id in offered,
                "reported_at": env.time,
                "incident_type": incident.incident_type,
                "deceased": person.deceased,
            }
            for offer_id, person in named.items()
            if offer_id not in on_record
        ]
        if rows:
            conn.execute(q.INVOLVEMENT_INSERT, rows)
        if any(not row["offered"] and not row["deceased"] for row in rows):
            key = f"offer:{env.agency}:{incident_id}"
            cause = {"cause": env.id, "correlation": env.correlationid or env.id}  # what the offers follow
            schedule(conn, timers, Timer(key, OFFER, env.agency, incident_id, NOW, cause))

    def _raised(self, conn: Connection, env: Envelope, event: IncidentFlagsRaised) -> None:
        """Later flags join the incident's (for offers not made yet); people now marked deceased are
        not offered (an offer already made stays: nothing is withdrawn)."""
        key = {"i_agency": env.agency, "i_id": env.subject}
        first = conn.execute(q.INCIDENT_FIRST, key).first()
        if first is None:  # nobody of the incident is on a roster: nothing to offer
            self._alert(conn, env, Incident(env.time, "{}", ""), event.flags.line_of_duty_death)
            return  # (but the agency's coordinator still hears of a death)
        was = IncidentFlags.model_validate_json(first[1]).model_dump()
        now = {k: on or was[k] for k, on in event.flags.model_dump().items()}
        flags = IncidentFlags(**now).model_dump_json()
        conn.execute(q.INCIDENT_FLAGS, {**key, "i_flags": flags})
        if event.deceased:
            conn.execute(q.INVOLVED_DECEASED, {**key, "refs": list(event.deceased)})
        self._alert(conn, env, Incident(_aware(first[0]), flags, first[2]), event.flags.line_of_duty_death)

    def _alert(self, conn: Connection, env: Envelope, incident: Incident, lodd: bool) -> None:
        alerts.owe(conn, env, alerts.Named(incident.incident_type, incident.occurred_at), lodd, NOW)

    def _offered(self, conn: Connection, env: Envelope, event: DebriefOffered) -> None:
        row: dict[str, object] = {
            "offer_id": env.subject,
            "agency": env.agency,
            "member_ref": event.member_ref,
            "incident_id": event.incident_id,
            "role": event.role,
            "offer_type": event.offer_type,
            "window_opens": event.window_opens,
            "window_closes": event.window_closes,
            "status": "offered",
        }
        conn.execute(q.OFFER_INSERT, row)
        conn.execute(q.INVOLVEMENT_OFFERED, {"o_id": env.subject})
        incident = {"i_agency": event.incident_agency, "i_id": event.incident_id}
        if conn.execute(q.WAITING_ANY, incident).first() is None:
            cancel(conn, timers, f"offer:{event.incident_agency}:{event.incident_id}")
