"""A whole EIDO document checked against NENA's published schema (`schema/eido-openapi.yaml`, vendored
from NENA911/EIDO-JSON `Schema/openapi.yaml`), read the way CADs and NENA's own samples write it.

The published schema and NENA's samples disagree in places (the samples send `incidentComponent` as an
array and registry values as plain strings; the schema requires prologue fields the samples lack), so
the check is structural: every value must have the type the schema gives it, where one value and an
array of such values are both accepted, and `required` is left to the fields Peerline reads itself
(`eido.EidoDocument`). NIEM components (`ncPersonComponent`…) are only required to be objects.
Errors name the path and the rule, never the value.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import best_match

from services.intake.domain.eido import EidoInvalid

SCHEMA = Path(__file__).parent / "schema" / "eido-openapi.yaml"
ROOT = "EmergencyIncidentDataObjectType"


def _one_or_many(node: dict[str, Any]) -> dict[str, Any]:
    if node.get("type") == "array" and "items" in node:
        return {"anyOf": [node, node["items"]]}
    if "$ref" in node or node.get("type") in ("object", "string", "integer", "boolean", "number"):
        return {"anyOf": [node, {"type": "array", "items": node}]}
    return node


def relax(node: Any, in_properties: bool = False) -> Any:
    """The published schema as described above (a new tree; the loaded one is left as it is)."""
    if isinstance(node, list):
        return [relax(n) for n in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {name: _one_or_many(relax(prop)) for name, prop in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("required", "example", "description", "title", "format"):
            continue
        if key == "minItems" and not isinstance(value, int):
            continue  # the published AgentType has `minItems: 1,` (a string)
        if key == "$ref" and isinstance(value, str) and not value.startswith("#/"):
            return {"type": "object"}  # a NIEM component in another file: an object, not checked further
        out[key] = relax(value, in_properties=key == "properties")
    return out


@cache
def validator() -> jsonschema.Draft202012Validator:
    published = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    schemas = relax(published["components"]["schemas"])
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{ROOT}", "components": {"schemas": schemas}}
    )


def _reason(error: jsonschema.ValidationError) -> str:
    if error.validator == "type":
        return f"should be {error.validator_value} as the EIDO schema defines it"
    if error.validator == "enum":
        return f"should be one of {error.validator_value} as the EIDO schema defines it"
    return f"does not match the EIDO schema ({error.validator})"


def check_structure(document: Any) -> None:
    """Raises EidoInvalid (path and rule) when the document breaks the published schema's structure."""
    error = best_match(validator().iter_errors(document))
    if error is not None:
        raise EidoInvalid(tuple(error.absolute_path), _reason(error))
