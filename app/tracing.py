"""Optional OpenTelemetry tracing: off unless ``OTEL_ENDPOINT`` is set; then spans around API requests,
jobs and destination calls go to that collector over OTLP/HTTP, tagged with the work's ids."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from app.settings import Settings

WORK_FIELDS = ("tenant_id", "flow_id", "run_id", "correlation_id")
"""What every log line and span of a unit of work carries, where the work has it."""
ATTRIBUTE_PREFIX = "shelfsync."

# The process's own provider, not OpenTelemetry's global one: the global can be set only once per
# process, and the setting (and tests) must be able to leave tracing off.
_provider: TracerProvider | None = None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (``http://collector:4318``)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def install_tracing(
    settings: Settings, service: str, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The process's tracer provider when ``settings.otel_endpoint`` is set (made on the first call;
    ``exporter`` replaces the OTLP one, for tests); None, and nothing installed, when it is not."""
    global _provider
    if settings.otel_endpoint is None:
        return None
    if _provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if exporter is None:
            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(traces_url(settings.otel_endpoint)))
            )
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        _provider = provider
    return _provider


def installed_provider() -> TracerProvider | None:
    return _provider


def shutdown_tracing() -> None:
    """Flush and drop the provider (process exit, and between tests)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, AttributeValue | None] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
) -> Iterator[Span | None]:
    """A span around a piece of work, tagged with the ids bound to the logs so far; None when off."""
    if _provider is None:
        yield None
        return
    bound = structlog.contextvars.get_contextvars()
    tags: dict[str, AttributeValue] = {
        ATTRIBUTE_PREFIX + field: str(bound[field]) for field in WORK_FIELDS if field in bound
    }
    tags.update({key: value for key, value in (attributes or {}).items() if value is not None})
    tracer = _provider.get_tracer("shelfsync")
    with tracer.start_as_current_span(name, context=parent, kind=kind, attributes=tags) as current:
        yield current


def tag_current_span(values: Mapping[str, str]) -> None:
    """Add work ids learnt mid-way (the tenant once a job has read its row) to the span in hand."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({ATTRIBUTE_PREFIX + key: value for key, value in values.items()})
