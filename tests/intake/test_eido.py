"""Reading EIDO as the standard and NENA's own samples write it. Pure."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.domain import incident, reader
from services.intake.domain.eido import EidoInvalid
from services.intake.domain.eido_schema import check_structure
from services.intake.domain.policy import AgencyPolicy, Policies, Triggers
from shared.contracts.intake import CriticalIncidentReported, IncidentFlagsRaised, Involved

pytestmark = pytest.mark.unit
EIDO = Path(__file__).parent / "fixtures" / "eido"
NENA = sorted((EIDO / "nena").glob("*.json"))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EIDO / name).read_text())
    return data


def everyone(inc: Any) -> tuple[Involved, ...]:
    return tuple(
        Involved(member_ref=f"m-{p.cad_id}", agency="a", role=p.role, unit=p.unit, deceased=p.deceased)
        for p in inc.people
    )


def test_there_are_nena_samples_to_read() -> None:
    assert {p.name for p in NENA} == {"Sample_EIDO.json", "Sample call transfer EIDO.json"}


@pytest.mark.parametrize("sample", NENA, ids=lambda p: p.name)
def test_every_public_nena_sample_is_read_and_meets_no_default_trigger(sample: Path) -> None:
    inc = reader.parse(sample.read_bytes())
    assert inc.tracking_id.startswith("urn:emergency:uid:incidentid:")
    assert inc.people and {p.role for p in inc.people} <= {"call_taker", "dispatcher"}
    assert incident.decide(incident.IncidentState(), inc, everyone(inc), ("a",), Triggers()) == []


def test_the_nena_sample_reads_its_registry_values_codes_status_and_priority() -> None:
    inc = reader.parse((EIDO / "nena" / "Sample_EIDO.json").read_bytes())
    assert inc.types == ("cu1", "10-101", "civil unrest; request mutual aid")
    assert inc.statuses == ("10-101",) and inc.priority == 10
    assert [(p.cad_id, p.role) for p in inc.people] == [
        ("dern.handy@psap.allegheny.pa.us", "call_taker"),
        ("tom.jones@psap.allegheny.pa.us", "dispatcher"),
    ]
    # an agency's own CAD codes and priority scale trigger, as configured
    for triggers in (
        Triggers(incident_types=("10-101",)),
        Triggers(statuses=("10-101",)),
        Triggers(priority_at_least=10),
    ):
        [report] = incident.decide(incident.IncidentState(), inc, everyone(inc), ("a",), triggers)
        assert isinstance(report, CriticalIncidentReported) and report.incident_type == "cu1"


def test_references_resolve_to_agencies_and_units() -> None:
    inc = reader.read(fixture("structure_fire_2.json"))
    by_id = {p.cad_id: p for p in inc.people}
    assert by_id["RFD-1003"].unit == "L3" and by_id["RFD-1003"].organization == "fire.riverton.example.gov"
    assert by_id["CEMS-1107"].organization == "ems.county.example.gov"
    assert by_id["ECC-204"].role == "dispatcher" and by_id["ECC-118"].role == "call_taker"
    assert inc.statuses == ("mayday", "active")


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("agentComponent", 1, "agencyReference"), "agentComponent.1.agencyReference"),
        (
            ("emergencyResourceComponent", 0, "agentReference", 1),
            "emergencyResourceComponent.0.agentReference.1",
        ),
    ],
)
def test_a_dangling_reference_is_rejected_naming_its_path_not_its_value(
    where: tuple[Any, ...], path: str
) -> None:
    doc = fixture("structure_fire_1.json")
    node: Any = doc
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = {"$ref": "agent-SOMEONE-SECRET"}
    with pytest.raises(EidoInvalid) as err:
        reader.read(doc)
    assert str(err.value).startswith(path + ":") and "SECRET" not in str(err.value)


def test_a_reference_to_the_wrong_kind_of_component_is_dangling() -> None:
    doc = fixture("structure_fire_1.json")
    doc["agentComponent"][0]["agencyReference"] = {"$ref": "agent-ECC-204"}  # an agent, not an agency
    with pytest.raises(EidoInvalid, match=r"^agentComponent\.0\.agencyReference: "):
        reader.read(doc)


def test_the_rest_of_the_document_is_checked_against_the_published_schema() -> None:
    doc = fixture("structure_fire_1.json")
    broken = copy.deepcopy(doc)
    broken["locationComponent"][0]["crossStreetByValue"] = {"street": "Quillon Avenue"}  # schema: strings
    with pytest.raises(EidoInvalid) as err:
        check_structure(broken)
    assert ".".join(map(str, err.value.loc)) == "locationComponent.0.crossStreetByValue"
    assert "Quillon" not in str(err.value)
    check_structure(doc)  # the well-formed one passes, NENA's samples too
    for sample in NENA:
        check_structure(json.loads(sample.read_bytes()))


def test_a_field_peerline_reads_in_the_wrong_shape_names_its_path() -> None:
    doc = fixture("structure_fire_1.json")
    doc["incidentComponent"][0]["incidentCommonPriorityNumber"] = "urgent"
    with pytest.raises(ValidationError) as err:
        reader.read(doc)
    assert [e["loc"] for e in err.value.errors()] == [
        ("incidentComponent", 0, "incidentCommonPriorityNumber")
    ]


def test_niem_person_details_give_the_child_victim_flag() -> None:
    inc = reader.read(fixture("structure_fire_3.json"))
    assert inc.victims == ((7, "critical"),)  # born 2019-05-02, incident 2026-09-12; the caller is no victim
    flags = incident.derive_flags(inc, Triggers())
    assert flags.child_victim and flags.line_of_duty_death and flags.mayday


def test_agents_resolve_to_the_agencies_a_dispatch_centre_serves() -> None:
    policies = Policies(
        {
            "riverton-ecc": AgencyPolicy(
                organizations=("ECC.riverton.example.gov",), serves=("riverton-fire", "county-ems")
            ),
            "riverton-fire": AgencyPolicy(organizations=("fire.riverton.example.gov",)),
            "county-ems": AgencyPolicy(organizations=("ems.county.example.gov",)),
            "riverton-police": AgencyPolicy(organizations=("police.riverton.example.gov",)),
        }
    )
    inc = reader.read(fixture("structure_fire_2.json"))
    agencies = {p.cad_id: policies.agency_of("riverton-ecc", p.organization) for p in inc.people}
    assert agencies == {
        "ECC-118": "riverton-ecc",
        "ECC-204": "riverton-ecc",
        "RFD-1001": "riverton-fire",
        "RFD-1002": "riverton-fire",
        "RFD-1003": "riverton-fire",
        "RFD-1004": "riverton-fire",
        "CEMS-1107": "county-ems",
        "RPD-0871": None,  # police is configured, but this centre's credential does not serve it
    }
    assert policies.agency_of("riverton-fire", "ems.county.example.gov") is None  # fire serves only itself


def test_flags_that_appear_later_are_raised_once_and_removals_take_nothing_back() -> None:
    state = incident.IncidentState()
    produced = []
    for n in (1, 2, 3, 3):
        inc = reader.read(fixture(f"structure_fire_{n}.json"))
        events = incident.decide(state, inc, everyone(inc), ("a",), Triggers())
        produced.append([e.name for e in events])
        for e in events:
            state = incident.evolve(state, e)
    assert produced == [[], ["critical_incident_reported"], ["incident_flags_raised"], []]
    assert len(state.involved) == 8  # the first engine's crew, gone from update 3, stays on the incident
    raised = incident.decide(
        incident.IncidentState(True, frozenset({"m-RFD-1004"}), frozenset({"mayday"})),
        reader.read(fixture("structure_fire_3.json")),
        everyone(reader.read(fixture("structure_fire_3.json"))),
        ("a",),
        Triggers(),
    )
    flags_raised = [e for e in raised if isinstance(e, IncidentFlagsRaised)]
    assert flags_raised[0].deceased == ("m-RFD-1004",)
    assert flags_raised[0].flags.line_of_duty_death and not flags_raised[0].flags.mayday
