"""OpenTelemetry: one trace per drill, one span per step run, exported over OTLP when an endpoint
is configured (the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT`` variables).

A drill lives for minutes to hours across many Celery tasks and hosts, so its spans are built when
it ends, from the times the database recorded, instead of being held open in a worker. The trace id
is derived from the drill id, and log lines carry the same id: a trace links to its logs."""

from __future__ import annotations

import hashlib
import logging
import os
from contextvars import ContextVar
from datetime import datetime

log = logging.getLogger("drdrill.tracing")

_trace_id_for_next_span: ContextVar[int | None] = ContextVar("drdrill_trace_id", default=None)
_provider = None


def trace_id_for_drill(drill_id: int) -> str:
    return hashlib.sha256(f"drdrill-drill-{drill_id}".encode()).hexdigest()[:32]


def tracing_configured() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def _tracer_provider():
    global _provider
    if _provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class DrillTraceIds(RandomIdGenerator):
            def generate_trace_id(self) -> int:
                return _trace_id_for_next_span.get() or super().generate_trace_id()

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "drdrill")})
        _provider = TracerProvider(resource=resource, id_generator=DrillTraceIds())
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return _provider


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def export_drill_trace(drill_id: int) -> bool:
    """Send the finished drill's trace. Never fails the caller: tracing is best effort."""
    if not tracing_configured():
        return False
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    from drills.models import Drill

    try:
        drill = Drill.objects.select_related("runbook_version__runbook", "system").get(pk=drill_id)
        if drill.started_at is None or drill.finished_at is None:
            return False
        provider = _tracer_provider()
        tracer = provider.get_tracer("drdrill.drills")
        token = _trace_id_for_next_span.set(int(trace_id_for_drill(drill.pk), 16))
        try:
            root = tracer.start_span(
                f"drill {drill.runbook_version.runbook.slug}", start_time=_ns(drill.started_at),
                attributes={"drdrill.drill_id": drill.pk, "drdrill.system": drill.system.slug,
                            "drdrill.runbook_version": drill.runbook_version.number, "drdrill.mode": drill.mode,
                            "drdrill.status": drill.status, **_measurement_attributes(drill)})
        finally:
            _trace_id_for_next_span.reset(token)
        parent = trace.set_span_in_context(root)
        for run in drill.step_runs.select_related("step").order_by("position"):
            if run.started_at is None:
                continue
            span = tracer.start_span(
                f"step {run.position} {run.step.action}", context=parent, start_time=_ns(run.started_at),
                attributes={"drdrill.drill_id": drill.pk, "drdrill.step_run_id": run.pk, "drdrill.step": run.step.name,
                            "drdrill.action": run.step.action, "drdrill.status": run.status,
                            "drdrill.attempt": run.attempt, "drdrill.worker": run.worker})
            if run.status == "failed":
                span.set_status(Status(StatusCode.ERROR, run.error[:500]))
            span.end(end_time=_ns(run.finished_at or drill.finished_at))
        if drill.status != Drill.Status.SUCCEEDED:
            root.set_status(Status(StatusCode.ERROR, drill.outcome[:500]))
        root.end(end_time=_ns(drill.finished_at))
        provider.force_flush(timeout_millis=5000)
        return True
    except Exception:  # a collector being down must not touch the drill
        log.exception("could not export the trace of drill %s", drill_id)
        return False


def _measurement_attributes(drill) -> dict[str, float]:
    attributes = {}
    for m in drill.measurements.all():
        if m.value_seconds is not None:
            attributes[f"drdrill.{m.kind}_seconds"] = m.value_seconds
            attributes[f"drdrill.{m.kind}_target_seconds"] = m.target_seconds
    return attributes
