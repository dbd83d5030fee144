"""Wellness's view of line-of-duty-death alerts: which agency's coordinator is owed one for an incident.

One row per (incident, agency) owed an alert — each agency with a member CAD marks deceased, or the
incident's own agency when CAD reports the death without naming anyone on a roster — and the
`lodd_alert` timer (due at once) while any row waits. The alert event settles its row; the last one
cancels the timer. Like the offers, a rebuilt view holds exactly the rows and timers the live one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from services.wellness.domain import lodd_alert_id
from services.wellness.reactions import LODD_ALERT
from services.wellness.tables import statements as q
from services.wellness.tables import timers
from shared.contracts.wellness import LineOfDutyDeathAlerted
from shared.envelope import Envelope
from shared.timers import Timer, cancel, schedule


@dataclass(frozen=True)
class Named:
    """How an alert names the incident: coded type and date, nothing more."""

    incident_type: str
    occurred_at: datetime


def timer_id(incident_agency: str, incident_id: str) -> str:
    return f"lodd:{incident_agency}:{incident_id}"


def owe(conn: Connection, env: Envelope, named: Named, lodd: bool, due: datetime) -> None:
    """After the incident's people are recorded: rows for the agencies now owed an alert, and the timer
    if any of them waits."""
    key = {"i_agency": env.agency, "i_id": env.subject}
    agencies = {agency for agency, _ in conn.execute(q.DECEASED, key)}
    if not agencies and lodd:
        agencies = {env.agency}
    ids = {lodd_alert_id(env.agency, env.subject, a): a for a in agencies}
    if not ids:
        return
    known = set(conn.execute(q.ALERTS_KNOWN, {"ids": list(ids)}).scalars())
    rows = [
        {
            "alert_id": i,
            "incident_agency": env.agency,
            "incident_id": env.subject,
            "agency": a,
            "alerted": False,
        }
        for i, a in ids.items()
        if i not in known
    ]
    if not rows:
        return
    conn.execute(q.ALERT_INSERT, rows)
    data = {
        "cause": env.id,
        "correlation": env.correlationid or env.id,
        "incident_type": named.incident_type,
        "incident_date": named.occurred_at.date().isoformat(),
    }
    schedule(
        conn,
        timers,
        Timer(timer_id(env.agency, env.subject), LODD_ALERT, env.agency, env.subject, due, data),
    )


def alerted(conn: Connection, env: Envelope, event: LineOfDutyDeathAlerted) -> None:
    if not conn.execute(q.ALERT_DONE, {"a_id": env.subject}).rowcount:
        row = {
            "alert_id": env.subject,
            "incident_agency": event.incident_agency,
            "incident_id": event.incident_id,
            "agency": env.agency,
            "alerted": True,
        }
        conn.execute(q.ALERT_INSERT, [row])
    incident = {"i_agency": event.incident_agency, "i_id": event.incident_id}
    if conn.execute(q.ALERTS_WAITING, incident).first() is None:
        cancel(conn, timers, timer_id(event.incident_agency, event.incident_id))
