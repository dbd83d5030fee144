"""The AsyncAPI 3.0 document of intake's CAD interface, generated from the same models the code uses.

`python -m services.intake asyncapi > docs/asyncapi.json`; a test keeps the committed copy current.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.intake.domain.cad import WebhookIncident
from services.intake.domain.eido import EidoDocument
from shared.consumers.intake import CAD_INBOX, CAD_MAX_AGE_S
from shared.contracts.base import Event
from shared.contracts.intake import (
    CriticalIncidentReported,
    IncidentFlagsRaised,
    IncidentRespondersAdded,
)

REF = "#/components/schemas/{model}"
EVENTS: tuple[type[Event], ...] = (CriticalIncidentReported, IncidentRespondersAdded, IncidentFlagsRaised)


def _envelope(event: type[Event]) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode envelope around the event's data."""
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "agency", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string"},
            "source": {"type": "string", "examples": ["peerline/intake-cad"]},
            "type": {"const": event.type_name()},
            "subject": {"type": "string", "description": "the incident_ref (same for every update)"},
            "time": {"type": "string", "format": "date-time"},
            "agency": {"type": "string"},
            "correlationid": {"type": ["string", "null"]},
            "causationid": {"type": ["string", "null"]},
            "data": {"$ref": REF.format(model=event.__name__)},
        },
    }


def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [EidoDocument, WebhookIncident, *EVENTS]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = dict(sorted(defs["$defs"].items()))
    hours = int(CAD_MAX_AGE_S // 3600)
    channels: dict[str, Any] = {
        "cadIncident": {
            "address": "cad.{agency}.incident",
            "title": "CAD incident documents",
            "description": (
                f"Publish one JSON document per incident update (JetStream stream `{CAD_INBOX}`: a work "
                f"queue kept at most {hours} h). Either a NENA EIDO document (`EidoDocument` lists what is "
                "read; the rest is checked only against NENA's published schema, then ignored) or "
                "Peerline's webhook (`WebhookIncident`, "
                '`"format": "peerline-webhook/1"`). Publish with JetStream to get an ack; a document '
                "that does not validate goes to `PEERLINE_DLQ` (subject `dlq.intake-cad-inbox`) with "
                "the reason in header `Peerline-Reason`. The same document over HTTP: "
                "`POST /v1/cad/incidents` with an integration token (OpenAPI at /docs)."
            ),
            "parameters": {
                "agency": {
                    "description": (
                        "Peerline agency id of the publishing agency (a dispatch centre publishes once "
                        "for every agency it serves)"
                    )
                }
            },
            "messages": {
                "eido": {"$ref": "#/components/messages/EidoIncident"},
                "webhook": {"$ref": "#/components/messages/WebhookIncident"},
            },
        },
    }
    messages: dict[str, Any] = {
        "EidoIncident": {
            "name": "EidoIncident",
            "contentType": "application/json",
            "summary": "NENA EIDO (STA-021) document; the schema lists the fields Peerline reads",
            "payload": {"$ref": REF.format(model="EidoDocument")},
        },
        "WebhookIncident": {
            "name": "WebhookIncident",
            "contentType": "application/json",
            "summary": "Peerline's small webhook JSON for CADs without EIDO",
            "payload": {"$ref": REF.format(model="WebhookIncident")},
        },
    }
    operations: dict[str, Any] = {
        "sendCadIncident": {
            "action": "send",
            "channel": {"$ref": "#/channels/cadIncident"},
            "summary": "A CAD reports (or updates) an incident",
        }
    }
    for event in EVENTS:
        key = event.__name__
        channels[key] = {
            "address": f"ev.{{agency}}.incident.{{incidentRef}}.{event.name}",
            "description": (event.__doc__ or "").strip(),
            "parameters": {"agency": {}, "incidentRef": {}},
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        messages[key] = {
            "name": key,
            "contentType": "application/cloudevents+json",
            "payload": _envelope(event),
        }
        operations[f"receive{key}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{key}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Peerline intake: CAD interface",
            "version": "1",
            "description": (
                "How dispatch systems hand incidents to Peerline, and the events that result. One CAD "
                "incident (agency + incidentTrackingIdentifier) yields at most one "
                "critical_incident_reported, when it first meets the agency's triggers; later updates "
                "only add people (incident_responders_added) and flags or deceased responders "
                "(incident_flags_raised), never take anything back. Crew and dispatchers appear only as "
                "member_refs (through the roster); people of the public are never stored, only flags."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "region": {
                "host": "nats.peerline.internal:4222",
                "protocol": "nats",
                "description": "the region's NATS (JetStream domain `region`); one user per integrator",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def document_json() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
