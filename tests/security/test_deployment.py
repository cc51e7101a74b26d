"""The shipped deployment starts safe: no known secret key, no demo admin unless asked, nothing runs
as root, the worker image carries the policy example, and Django's deployment check is clean in the
compose configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_environment() -> dict[str, str]:
    return COMPOSE["x-app"]["environment"]


def test_compose_refuses_to_start_without_its_secrets_and_knows_no_default_one():
    environment = app_environment()
    for variable in ("DRDRILL_SECRET_KEY", "DRDRILL_AUDIT_KEY"):
        assert re.fullmatch(r"\$\{" + variable + r":\?.+\}", environment[variable]), environment[variable]
    assert ":?" in environment["DATABASE_URL"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text and "drdrill-demo" not in text


def test_compose_creates_no_demo_admin_and_runs_nothing_as_root():
    web = COMPOSE["services"]["web"]["command"]
    assert "demo --no-admin" in web and "createsuperuser" not in web
    assert COMPOSE["x-app"]["user"] != "0" and COMPOSE["x-app"]["user"] != "root"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER drdrill$", dockerfile, re.M)
    assert "worker-policy.example.yaml /etc/drdrill/" in dockerfile
    worker = COMPOSE["services"]["worker"]
    assert worker["environment"]["DRDRILL_WORKER_POLICY"] == "/etc/drdrill/worker-policy.yaml"
    assert (ROOT / "deploy" / "worker-policy.compose.yaml").exists()


def test_the_shipped_policy_examples_load(tmp_path):
    from runbooks.actions.policy import WorkerPolicy

    for name in ("worker-policy.example.yaml", "worker-policy.compose.yaml"):
        policy = WorkerPolicy.from_file(ROOT / "deploy" / name)
        assert policy.network and policy.files


def test_djangos_deployment_check_is_clean_in_the_compose_configuration(tmp_path):
    environment = {key: str(value) for key, value in app_environment().items()}
    environment.update({
        "DRDRILL_SECRET_KEY": "x" * 60 + "compose-check-only",
        "DRDRILL_AUDIT_KEY": "audit-key-compose-check-only",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
        "DRDRILL_DATA_DIR": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
    })
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
