"""A trace collector for benchmark runs: every service exports its spans here over OTLP/HTTP, as it would
to a real collector, so the figures are taken with tracing on. It only counts what arrives."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ENDPOINT = "PEERLINE_OTLP_ENDPOINT"


class Sink:
    """`with Sink() as sink:` → `sink.endpoint` for PEERLINE_OTLP_ENDPOINT; `sink.spans` per service."""

    def __init__(self) -> None:
        self.spans: Counter[str] = Counter()
        self.names: Counter[str] = Counter()  # "service: span name" → spans (where a service's CPU goes)
        self.exports = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.take(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self._lock:
            self.exports += 1
            for resource in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"),
                    "?",
                )
                for scope in resource.scope_spans:
                    self.spans[service] += len(scope.spans)
                    self.names.update(f"{service}: {span.name}" for span in scope.spans)

    @contextmanager
    def as_endpoint(self) -> Iterator[Sink]:
        """Run the sink with every service started meanwhile exporting to it (PEERLINE_OTLP_ENDPOINT)."""
        with self:
            os.environ[ENDPOINT] = self.endpoint
            try:
                yield self
            finally:
                del os.environ[ENDPOINT]

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
