"""CAD documents → flags → the incident aggregate's events, on the EIDO fixtures. Pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.intake.domain import cad, incident, reader
from services.intake.domain.policy import Triggers
from shared.contracts.intake import CriticalIncidentReported, IncidentRespondersAdded, Involved

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> cad.Incident:
    return reader.parse((FIXTURES / name).read_bytes())


def everyone(inc: cad.Incident, agency: str = "riverton-fire") -> tuple[Involved, ...]:
    return tuple(
        Involved(member_ref=f"m-{p.cad_id.lower()}", agency=agency, role=p.role, unit=p.unit)
        for p in inc.people
    )


def decide(
    inc: cad.Incident, state: incident.IncidentState | None = None, triggers: Triggers | None = None
) -> list:  # type: ignore[type-arg]
    return incident.decide(
        state or incident.IncidentState(), inc, everyone(inc), ("riverton-fire",), triggers or Triggers()
    )


def test_line_of_duty_death_reports_crew_and_dispatch_without_the_public() -> None:
    inc = load("lodd.json")
    [report] = decide(inc)
    assert isinstance(report, CriticalIncidentReported)
    assert report.flags.line_of_duty_death and report.priority == 1
    roles = sorted((i.role, i.unit) for i in report.involved)
    assert roles.count(("responder", "E12")) == 3 and roles.count(("responder", "L4")) == 2
    assert ("call_taker", None) in roles and ("dispatcher", None) in roles
    wire = report.model_dump_json()
    for public in ("Wexley", "555 201", "Alder", "Reyes"):
        assert public not in wire


def test_paediatric_death_flags_a_child_victim_from_the_birth_date() -> None:
    inc = load("paediatric_death.json")
    [report] = decide(inc)
    assert report.flags.child_victim and report.flags.failed_resuscitation
    assert {i.role for i in report.involved} == {"responder", "call_taker"}
    assert "Okonkwo" not in report.model_dump_json()


def test_officer_involved_shooting_from_the_type_code() -> None:
    [report] = decide(load("ois.json"))
    assert report.flags.officer_involved_shooting and not report.flags.child_victim


def test_webhook_with_a_stated_flag_and_a_teenage_victim() -> None:
    [report] = decide(load("webhook_ois.json"))
    assert report.flags.officer_involved_shooting and report.flags.child_victim
    assert "Strickland" not in report.model_dump_json()


def test_an_ordinary_call_does_not_trigger() -> None:
    assert decide(load("ordinary.json")) == []


def test_agency_policy_decides_what_triggers() -> None:
    ordinary = load("ordinary.json")
    assert decide(ordinary, triggers=Triggers(priority_at_most=3)) != []
    assert decide(ordinary, triggers=Triggers(incident_types=("FALL",))) != []
    assert decide(load("ois.json"), triggers=Triggers(flags=("line_of_duty_death",))) == []


def test_one_incident_updated_three_times_is_reported_once_then_only_additions() -> None:
    state = incident.IncidentState()
    produced = []
    for n in (1, 2, 3):
        inc = load(f"mayday_update_{n}.json")
        assert incident.incident_id("riverton-fire", inc.tracking_id) == incident.incident_id(
            "riverton-fire", load("mayday_update_1.json").tracking_id
        )
        events = decide(inc, state)
        produced.append([type(e) for e in events])
        for e in events:
            state = incident.evolve(state, e)
    assert produced == [[CriticalIncidentReported], [IncidentRespondersAdded], []]
    assert len(state.involved) == 5


def test_a_malformed_document_names_the_bad_fields() -> None:
    with pytest.raises(ValidationError) as err:
        load("malformed.json")
    fields = {".".join(str(p) for p in e["loc"]) for e in err.value.errors()}
    assert "incidentComponent.0.incidentTypeCommonRegistryText" in fields
    assert "incidentComponent.0.incidentCommonPriorityNumber" in fields
    with pytest.raises(ValueError):
        reader.parse(b"{not json")


def test_a_document_is_read_as_eido_unless_it_is_a_webhook() -> None:
    eido = json.loads((FIXTURES / "ois.json").read_text())
    eido["format"] = "something a vendor added"
    assert reader.parse(json.dumps(eido).encode()).types[0] == "law - shots fired"
    hook = json.loads((FIXTURES / "webhook_ois.json").read_text())
    assert reader.parse(json.dumps(hook).encode()).tracking_id == "RPD-2026-7731"
    hook["format"] = "peerline-webhook/9"
    with pytest.raises(ValidationError):
        reader.parse(json.dumps(hook).encode())
