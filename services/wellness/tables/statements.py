"""The view's writes and the workers' hot reads, built once: constructing a statement (and its cache key)
per event costs several times what SQLite spends running it, so each is executed with parameters only."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from services.wellness.tables import (
    alerts,
    assignments,
    checkins,
    contacts,
    followups,
    involvements,
    offers,
    peers,
    planned,
)

# --- peers -----------------------------------------------------------------------------------------
_PEER = peers.c.peer_ref == bindparam("p_ref")
PEER_KNOWN = select(peers.c.peer_ref).where(_PEER)
PEER_ENROLL = (
    peers.update().where(_PEER).values(agency=bindparam("p_agency"), member_ref=bindparam("p_member"))
)
PEER_INSERT = peers.insert()
PEER_OVERLOADED = (
    peers.update()
    .where(_PEER)
    .values(overloaded=True, overloaded_at=bindparam("p_at"), reasons=bindparam("p_reasons"))
)
PEER_RECOVERED = peers.update().where(_PEER).values(overloaded=False, overloaded_at=None, reasons="")
PEER_BREAK = peers.update().where(_PEER).values(on_break=True, break_until=bindparam("p_until"))
PEER_BREAK_ENDED = peers.update().where(_PEER).values(on_break=False, break_until=None)

# --- cases and contacts ----------------------------------------------------------------------------
ASSIGNMENT_DELETE = assignments.delete().where(assignments.c.case_id == bindparam("c_id"))
ASSIGNMENT_INSERT = assignments.insert()
CONTACT_INSERT = contacts.insert()
PLANNED = select(planned.c.case_id).where(planned.c.case_id == bindparam("c_id"))
PLANNED_INSERT = planned.insert()

# --- incidents, offers, exposure -------------------------------------------------------------------
_INCIDENT = (involvements.c.incident_agency == bindparam("i_agency")) & (
    involvements.c.incident_id == bindparam("i_id")
)
INCIDENT_FIRST = select(involvements.c.occurred_at, involvements.c.flags, involvements.c.incident_type).where(
    _INCIDENT
)
INCIDENT_FLAGS = involvements.update().where(_INCIDENT).values(flags=bindparam("i_flags"))
INVOLVED_DECEASED = (
    involvements.update()
    .where(_INCIDENT)
    .where(involvements.c.member_ref.in_(bindparam("refs", expanding=True)))
    .values(deceased=True)
)
DECEASED = (
    select(involvements.c.agency, func.count())
    .where(_INCIDENT)
    .where(involvements.c.deceased.is_(True))
    .group_by(involvements.c.agency)
)
INVOLVED_KNOWN = select(involvements.c.offer_id).where(
    involvements.c.offer_id.in_(bindparam("ids", expanding=True))
)
OFFERS_KNOWN = select(offers.c.offer_id).where(offers.c.offer_id.in_(bindparam("ids", expanding=True)))
INVOLVEMENT_INSERT = involvements.insert()
INVOLVEMENT_OFFERED = (
    involvements.update().where(involvements.c.offer_id == bindparam("o_id")).values(offered=True)
)
_WAITS = involvements.c.offered.is_(False) & involvements.c.deceased.is_(False)
WAITING_ANY = select(involvements.c.offer_id).where(_INCIDENT).where(_WAITS).limit(1)
WAITING = select(involvements).where(_INCIDENT).where(_WAITS)
OFFER_INSERT = offers.insert()
_ALERT_INCIDENT = (alerts.c.incident_agency == bindparam("i_agency")) & (
    alerts.c.incident_id == bindparam("i_id")
)
ALERTS_KNOWN = select(alerts.c.alert_id).where(alerts.c.alert_id.in_(bindparam("ids", expanding=True)))
ALERT_INSERT = alerts.insert()
ALERT_DONE = alerts.update().where(alerts.c.alert_id == bindparam("a_id")).values(alerted=True)
ALERTS_WAITING = (
    select(alerts.c.alert_id, alerts.c.agency).where(_ALERT_INCIDENT).where(alerts.c.alerted.is_(False))
)
OFFER_ANSWER = (
    offers.update().where(offers.c.offer_id == bindparam("o_id")).values(status=bindparam("o_status"))
)
CHECKIN_INSERT = checkins.insert()
EXPOSURE_COUNTS = (
    select(
        involvements.c.member_ref,
        func.count(func.distinct(involvements.c.incident_agency + ":" + involvements.c.incident_id)),
    )
    .where(involvements.c.member_ref.in_(bindparam("refs", expanding=True)))
    .where(involvements.c.occurred_at > bindparam("since"))
    .group_by(involvements.c.member_ref)
)

# --- follow-ups ------------------------------------------------------------------------------------
FOLLOWUP_INSERT = followups.insert()
FOLLOWUP_STATUS = (
    followups.update()
    .where(followups.c.followup_id == bindparam("f_id"))
    .values(status=bindparam("f_status"))
)
