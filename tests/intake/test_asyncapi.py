"""The AsyncAPI document a CAD integrator reads is current, and its schemas accept the real fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from services.intake.asyncapi import document, document_json

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def validator(model: str) -> jsonschema.Draft202012Validator:
    doc = document()
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{model}", **doc})


def test_the_committed_document_is_generated_from_the_code() -> None:
    assert (ROOT / "docs" / "asyncapi.json").read_text() == document_json(), (
        "regenerate: python -m services.intake asyncapi > docs/asyncapi.json"
    )


def test_its_schemas_accept_the_fixtures_and_reject_the_malformed_one() -> None:
    eido = validator("EidoDocument")
    for name in ("lodd", "paediatric_death", "ois", "ordinary", "mayday_update_1"):
        eido.validate(json.loads((FIXTURES / f"{name}.json").read_text()))
    for path in (*(FIXTURES / "eido").glob("*.json"), *(FIXTURES / "eido" / "nena").glob("*.json")):
        eido.validate(json.loads(path.read_text()))  # NENA's own samples, and updates as the standard writes
    validator("WebhookIncident").validate(json.loads((FIXTURES / "webhook_ois.json").read_text()))
    assert not eido.is_valid(json.loads((FIXTURES / "malformed.json").read_text()))


def test_every_reference_resolves() -> None:
    doc = document()
    text = json.dumps(doc)
    for ref in {r.split('"')[0] for r in text.split('"$ref": "#/')[1:]}:
        node = doc
        for part in ref.split("/"):
            node = node[part]
    assert doc["channels"]["cadIncident"]["address"] == "cad.{agency}.incident"
