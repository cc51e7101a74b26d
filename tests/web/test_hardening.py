"""Production safety: deploy checks, login throttling, a content security policy, and secrets
kept out of the database and the logs."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from accounts.roles import Role
from drills.models import Drill
from tests.support.roles import PASSWORD, user_with_role
from tests.support.scenarios import ORDERS_TOKEN, ORDERS_TOKEN_VARIABLE, system_and_runbook
from tests.support.waiting import wait_for_drill
from tests.support.workers import ROOT


def test_check_deploy_with_production_settings_prints_no_warnings(tmp_path):
    env = dict(os.environ, DRDRILL_HTTPS="1", DRDRILL_SECRET_KEY=secrets.token_urlsafe(64),
               DRDRILL_ALLOWED_HOSTS="drdrill.example.com", DRDRILL_DATA_DIR=str(tmp_path))
    env.pop("DRDRILL_DEBUG", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client: Client, coordinator):
    client.force_login(coordinator)
    policy = client.get("/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_repeated_wrong_passwords_lock_the_account_out(client: Client):
    user_with_role("vera", Role.VIEWER.value)
    for _ in range(5):
        client.post("/login/", {"username": "vera", "password": "guess"})
    response = client.post("/login/", {"username": "vera", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/").status_code == 302  # still not signed in


class EchoHandler(BaseHTTPRequestHandler):
    """An endpoint that echoes the credentials it was sent, as careless APIs do."""

    def do_POST(self) -> None:  # noqa: N802
        body = f'{{"you_sent": "{self.headers.get("Authorization", "")}"}}'.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        body = f'{{"you_sent": "{self.headers.get("Authorization", "")}"}}'.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.worker
def test_a_step_that_echoes_a_secret_stores_it_redacted(worker, import_yaml, start_drill, orders_db, echo_url):
    import_yaml(*system_and_runbook(orders_db, echo_url, f"""
      - name: Read the status with the API token
        action: http.request
        params: {{url: "{echo_url}/status", headers_from_env: {{Authorization: {ORDERS_TOKEN_VARIABLE}}}}}
      - name: Trigger the failover with the API token
        action: http.request
        params: {{url: "{echo_url}/failover", method: POST, headers_from_env: {{Authorization: {ORDERS_TOKEN_VARIABLE}}}}}
"""))
    drill = wait_for_drill(start_drill("drill-under-test"))
    assert drill.status == Drill.Status.FAILED
    read, trigger = drill.step_runs.order_by("position")
    assert f"[redacted:{ORDERS_TOKEN_VARIABLE}]" in read.evidence["response"]
    assert trigger.error and ORDERS_TOKEN not in trigger.error
    stored = " ".join([str(read.evidence), trigger.error, drill.outcome,
                       *drill.events.values_list("message", flat=True)])
    assert ORDERS_TOKEN not in stored


def test_log_lines_are_scrubbed_of_secrets(monkeypatch):
    from drills.redaction import RedactSecretsFilter

    monkeypatch.setenv("PAYMENTS_DB_PASSWORD", "hunter2-but-longer")
    logger = logging.getLogger("drdrill.test.redaction")
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Capture()
    handler.addFilter(RedactSecretsFilter())
    logger.addHandler(handler)
    try:
        logger.warning("connect failed for %s", "postgres://app:hunter2-but-longer@db/payments")
    finally:
        logger.removeHandler(handler)
    assert records == ["connect failed for postgres://app:[redacted:PAYMENTS_DB_PASSWORD]@db/payments"]
