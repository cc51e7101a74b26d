"""Observing drdrill like any other service: Prometheus metrics that move with the drills, JSON
log lines that carry a step's ids, and an OpenTelemetry trace per drill."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from accounts.roles import Role
from drills.models import Drill
from observability.tracing import trace_id_for_drill
from tests.support.roles import user_with_role
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker
TOKEN = "metrics-token-0f9e8d7c"


def scrape(client: Client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_move_with_the_drills_and_need_a_token_or_a_viewer(worker, monkeypatch, import_yaml, start_drill,
                                                                    orders_db, orders_service):
    monkeypatch.setenv("DRDRILL_METRICS_TOKEN", TOKEN)
    client = Client()
    assert client.get("/metrics").status_code == 302
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 302
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    before = scrape(client)
    assert sample(before, "drdrill_drills", status="succeeded", mode="live") == 0

    drill = wait_for_drill(start_drill("demo-orders-backup-restore"), timeout=90)
    assert drill.status == Drill.Status.SUCCEEDED
    after = scrape(client)
    assert sample(after, "drdrill_drills", status="succeeded", mode="live") == 1
    assert sample(after, "drdrill_step_duration_seconds_count", action="sqlite.backup", status="succeeded") == 1
    assert sample(after, "drdrill_step_queue_wait_seconds_count") == 6
    assert sample(after, "drdrill_drill_events_total", kind="step.succeeded") == 6
    rto = drill.measurements.get(kind="rto")
    assert sample(after, "drdrill_measured_seconds", system="orders", kind="rto") == pytest.approx(rto.value_seconds)
    assert sample(after, "drdrill_measurement_met", system="orders", kind="rto") == 1

    viewer = Client()
    viewer.force_login(user_with_role("vera", Role.VIEWER.value))
    assert viewer.get("/metrics").status_code == 200
    nobody = Client()
    nobody.force_login(user_with_role("nemo", None))
    assert nobody.get("/metrics").status_code == 403


def test_a_step_log_line_carries_the_drill_step_and_trace_ids(worker, import_yaml, start_drill, orders_db,
                                                              orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    drill = wait_for_drill(start_drill("demo-orders-backup-restore", mode="dry_run"))
    backup = drill.step_runs.get(position=2)

    lines = []
    for raw in worker.log_path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # Celery's banner is not a log record
    step_lines = [line for line in lines if line.get("event") == "step.succeeded" and line.get("step_run_id") == backup.pk]
    assert len(step_lines) == 1, "one JSON log line for the step's success"
    line = step_lines[0]
    assert line["drill_id"] == drill.pk
    assert line["trace_id"] == trace_id_for_drill(drill.pk)
    assert line["level"] == "info" and "Back up the orders database" in line["message"]


class CollectorHandler(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        CollectorHandler.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_finished_drill_is_exported_as_one_trace_with_a_span_per_step(worker, monkeypatch, import_yaml, start_drill,
                                                                        orders_db, orders_service):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from observability import tracing

    server = ThreadingHTTPServer(("127.0.0.1", 0), CollectorHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}/v1/traces")
    monkeypatch.setattr(tracing, "_provider", None)
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    drill = wait_for_drill(start_drill("demo-orders-backup-restore"), timeout=90)
    try:
        assert tracing.export_drill_trace(drill.pk) is True
    finally:
        server.shutdown()

    spans = []
    for body in CollectorHandler.received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans.extend(scope_spans.spans)
    assert {span.trace_id.hex() for span in spans} == {trace_id_for_drill(drill.pk)}
    root = next(span for span in spans if span.name.startswith("drill "))
    steps = [span for span in spans if span.name.startswith("step ")]
    assert len(steps) == 6 and all(span.parent_span_id == root.span_id for span in steps)
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["drdrill.rto_seconds"].double_value == pytest.approx(drill.measurements.get(kind="rto").value_seconds)
