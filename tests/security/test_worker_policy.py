"""A coordinator's runbook reaches only what the worker host's operator allowed (the worker policy the
test workers run under: tests/support/workers.py). Each attack a security review tried is replayed
through a real drill on real workers, in a dry-run (plan) and a live run, and shows the refusal and
that nothing was touched."""

from __future__ import annotations

import hashlib
import shutil
import stat
from pathlib import Path

import pytest
from django.conf import settings

from drills.models import Drill
from tests.support.scenarios import ORDERS_TOKEN_VARIABLE, orders_system_yaml, system_and_runbook
from tests.support.waiting import wait_for_drill

pytestmark = pytest.mark.worker

# Outside every folder the test policy allows (it allows the temporary folder).
OUTSIDE = Path("/var/tmp/drdrill-policy-test")
# TEST-NET-1 (RFC 5737): not loopback, so outside the test policy's network.
OUTSIDE_URL = "http://192.0.2.10:9/health"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def outside_file():
    OUTSIDE.mkdir(parents=True, exist_ok=True)
    victim = OUTSIDE / "victim.sqlite3"
    from demo.orders_service import create_database

    victim.unlink(missing_ok=True)
    create_database(victim)
    yield victim
    shutil.rmtree(OUTSIDE, ignore_errors=True)


def run_steps(import_yaml, start_drill, orders_db, url: str, steps: str, mode: str) -> Drill:
    import_yaml(*system_and_runbook(orders_db, url, steps))
    return wait_for_drill(start_drill("drill-under-test", mode=mode))


def assert_refused(drill: Drill, *words: str) -> None:
    assert drill.status == Drill.Status.FAILED, drill.outcome
    step = drill.step_runs.get(position=1)
    assert step.status == "failed"
    for word in words:
        assert word in step.error, step.error


@pytest.mark.parametrize("mode", ["dry_run", "live"])
def test_http_inside_the_policy_runs_and_outside_is_refused_before_any_request(worker, import_yaml, start_drill,
                                                                               orders_db, service, mode):
    allowed = run_steps(import_yaml, start_drill, orders_db, service.url, f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
""", mode)
    assert allowed.status == Drill.Status.SUCCEEDED, allowed.outcome
    assert service.count("/health") == (1 if mode == "live" else 0)

    refused = run_steps(import_yaml, start_drill, orders_db, service.url, f"""
      - name: Call a host the policy does not list
        action: http.request
        params: {{url: "{OUTSIDE_URL}"}}
""", mode)
    assert_refused(refused, "refused by the worker policy", "192.0.2.10:9", "network")


@pytest.mark.parametrize("mode", ["dry_run", "live"])
def test_sqlite_inside_the_policy_runs_and_a_file_outside_is_refused_untouched(worker, import_yaml, start_drill,
                                                                               orders_db, service, outside_file, mode):
    allowed = run_steps(import_yaml, start_drill, orders_db, service.url, """
      - name: Back up the orders database
        action: sqlite.backup
        params: {target: db}
""", mode)
    assert allowed.status == Drill.Status.SUCCEEDED, allowed.outcome

    before = sha(outside_file)
    refused = run_steps(import_yaml, start_drill, orders_db, service.url, f"""
      - name: Overwrite a file the runbook should not reach
        action: sqlite.backup
        params: {{target: db, destination: "{outside_file}"}}
""", mode)
    assert_refused(refused, "refused by the worker policy", str(outside_file), "not under an allowed folder")
    assert sha(outside_file) == before


@pytest.mark.parametrize("own", ["secret key", "database", "static files"])
def test_drdrills_own_files_are_never_reachable_whatever_the_policy(worker, import_yaml, start_drill, orders_db,
                                                                    service, own):
    """The review's attacks: a backup written over drdrill's own files (the static folder made one
    downloadable), a fault deleting drdrill's own database."""
    data = Path(settings.DATA_DIR)
    victims = {"secret key": data / "secret_key", "database": data / "test-drdrill.sqlite3",
               "static files": Path(settings.STATICFILES_DIRS[0]) / "stolen.sqlite3"}
    victim = victims[own]
    existed = victim.exists()
    before = sha(victim) if existed and own != "database" else None
    import_yaml(f"""
systems:
  - slug: own
    name: drdrill itself
    environment: staging
    tier: 3
    targets:
      db: {{kind: sqlite, path: "{orders_db}"}}
      self: {{kind: sqlite, path: "{victim}"}}
runbooks:
  - slug: own-attack
    title: Reach drdrill's own files
    system: own
    kind: partial_failover
    steps:
      - name: Back up over it
        action: sqlite.backup
        params: {{target: db, destination: "{victim}"}}
      - name: Delete it
        action: sqlite.fault
        params: {{target: self}}
""")
    drill = wait_for_drill(start_drill("own-attack"))

    assert drill.status == Drill.Status.FAILED
    assert "drdrill's own" in drill.step_runs.get(position=1).error
    assert victim.exists() == existed
    if own != "database":  # the test database itself changes as the drill is recorded
        assert (sha(victim) if existed else None) == before


def test_a_postgres_binding_with_a_tool_folder_of_the_coordinators_choosing_runs_nothing(worker, import_yaml,
                                                                                         start_drill, tmp_path):
    """bin_dir pointing at a folder someone controls, os_user root, from a dry-run on production:
    the 'pg_ctl' there would write a marker; it is never run."""
    tools = tmp_path / "tools"
    tools.mkdir()
    marker = tmp_path / "ran-as-root"
    for tool in ("pg_ctl", "pg_controldata", "psql"):
        script = tools / tool
        script.write_text(f"#!/bin/sh\nid -u > {marker}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for os_user, words in (("root", "never runs a program as root"), ("postgres", f"programs from {tools}")):
        import_yaml(f"""
systems:
  - slug: shop-db
    name: Shop database
    environment: production
    tier: 1
    targets:
      pg: {{kind: postgres, host: 127.0.0.1, port: 1, dbname: shop, user: postgres,
            data_dir: "{tmp_path}/data", bin_dir: "{tools}", os_user: {os_user}}}
runbooks:
  - slug: stop-shop-db
    title: Stop the shop database
    system: shop-db
    kind: full_failover
    steps:
      - name: Stop the primary
        action: postgres.fault
        params: {{target: pg, mode: stop}}
""")
        drill = wait_for_drill(start_drill("stop-shop-db", mode="dry_run"))
        assert drill.status == Drill.Status.FAILED
        assert words in drill.step_runs.get(position=1).error
        assert not marker.exists()


@pytest.mark.parametrize("variable", [ORDERS_TOKEN_VARIABLE, "DRDRILL_SECRET_KEY", "HOME"])
def test_a_secret_is_sent_only_where_the_policy_allows_and_drdrills_own_never(worker, import_yaml, start_drill,
                                                                              orders_db, service, variable):
    """headers_from_env may name only the variables the policy lists, and never drdrill's own: the
    loopback listener receives the token it should, and no request at all otherwise."""
    drill = run_steps(import_yaml, start_drill, orders_db, service.url, f"""
      - name: Call the API with a token
        action: http.request
        params: {{url: "{service.url}/health", headers_from_env: {{Authorization: {variable}}}}}
""", "live")
    if variable == ORDERS_TOKEN_VARIABLE:
        assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
        assert service.count("/health") == 1
        return
    assert_refused(drill, variable)
    assert service.count("/health") == 0


def test_a_file_url_is_refused_at_import_and_by_the_worker(worker, import_yaml, start_drill, orders_db, service):
    from runbooks.yaml_format import RunbookFormatError

    with pytest.raises(RunbookFormatError, match="targets.web.url: required: an http:// or https:// URL"):
        import_yaml(orders_system_yaml(orders_db, f"file://{settings.DATA_DIR}/secret_key"))
    with pytest.raises(RunbookFormatError, match="must start with http:// or https://"):
        run_steps(import_yaml, start_drill, orders_db, service.url, f"""
      - name: Read a local file
        action: http.request
        params: {{url: "file://{settings.DATA_DIR}/secret_key"}}
""", "live")


@pytest.mark.django_db
def test_without_a_policy_file_a_worker_allows_only_the_demo_area_and_loopback(tmp_path):
    from drills.worker_policy import demo_area, protected_paths
    from runbooks.actions.policy import FileAccess, PolicyRefused, UrlAccess, WorkerPolicy

    policy = WorkerPolicy.default(demo_area=demo_area(), protected=protected_paths())
    policy.check(FileAccess(str(demo_area() / "orders.sqlite3"), write=True))
    policy.check(UrlAccess("http://127.0.0.1:8765/health"))
    for access in (FileAccess(str(tmp_path / "x.sqlite3")), UrlAccess("https://example.com/"),
                   FileAccess(str(Path(settings.DATA_DIR) / "secret_key"))):
        with pytest.raises(PolicyRefused):
            policy.check(access)
