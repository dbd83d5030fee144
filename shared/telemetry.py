"""Tracing and logging set-up: one call each. Traces cross NATS hops through W3C `traceparent` headers."""

from __future__ import annotations

import json
import logging
import sys

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_telemetry(
    service: str, otlp_endpoint: str | None = None, processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install a tracer provider for this process. Spans leave the process only when an OTLP endpoint
    (or a test's processor) is given; ids are still made and propagated either way."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"peerline-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if processor is not None:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def http_telemetry(*, traced: bool = True) -> TelemetryConfig:
    """FastAPI's own telemetry (`FastAPI(telemetry=...)`) for a Peerline app: one server span per request,
    the root of its trace (`traced`), and nothing else. FastAPI's operation spans are off: dependencies,
    endpoint and serialization made three more spans for every request, each one CPU to make and to
    export (measured: 4 spans per support request at intake where 1 carries what is known). So are its
    metrics (Peerline's are Prometheus, on the ops port) and its logs, which would record an unhandled
    exception's message, and a message may carry a value someone typed."""
    return {"tracing": traced, "operation_spans": False, "metrics": False, "logs": False}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace id. Messages must never carry personal data."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if ctx.is_valid:
            out["trace_id"] = f"{ctx.trace_id:032x}"
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "faststream.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
