"""Runbooks as code: a good file imports, a changed one makes a new version, an unchanged one
nothing, and a broken one is refused whole with a message naming the file, step and field."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from runbooks.models import Runbook, RunbookVersion, Step, System
from runbooks.services import export_runbooks, import_runbooks
from runbooks.yaml_format import RunbookFormatError

pytestmark = pytest.mark.django_db

SYSTEM = """
systems:
  - slug: payments
    name: Payments
    tier: 1
    targets:
      web: {kind: http, url: "http://127.0.0.1:9"}
      db: {kind: sqlite, path: /tmp/payments.sqlite3}
"""
RUNBOOK = """
runbooks:
  - slug: payments-failover
    title: Payments failover
    system: payments
    kind: partial_failover
    steps:
      - name: Check health
        action: http.request
        params: {target: web, path: /health}
      - name: Wait for the standby
        action: wait
        params: {seconds: 5}
        timeout: 1m
"""


def do_import(*texts: str):
    return import_runbooks(sources=[(f"file{i}.yaml", t) for i, t in enumerate(texts)])


def counts() -> tuple[int, int, int, int]:
    return System.objects.count(), Runbook.objects.count(), RunbookVersion.objects.count(), Step.objects.count()


def test_a_system_gets_its_tier_defaults_unless_targets_are_given():
    do_import(SYSTEM)
    payments = System.objects.get(slug="payments")
    assert (payments.rto_target_seconds, payments.rpo_target_seconds) == (4 * 3600, 3600)
    do_import(SYSTEM.replace("tier: 1", "tier: 1\n    rto_target: 30m\n    rpo_target: 90s"))
    payments.refresh_from_db()
    assert (payments.rto_target_seconds, payments.rpo_target_seconds) == (1800, 90)


def test_importing_a_changed_runbook_creates_a_new_version_and_an_unchanged_one_nothing():
    report = do_import(SYSTEM, RUNBOOK)
    assert report.versions_created == ["payments-failover v1"]
    assert do_import(SYSTEM, RUNBOOK).versions_created == []
    assert RunbookVersion.objects.count() == 1

    report = do_import(SYSTEM, RUNBOOK.replace("seconds: 5", "seconds: 10"))
    assert report.versions_created == ["payments-failover v2"]
    v1, v2 = RunbookVersion.objects.order_by("number")
    assert v1.steps.get(position=2).params == {"seconds": 5}  # the old version is kept as it was
    assert v2.steps.get(position=2).params == {"seconds": 10}
    assert v2.steps.get(position=2).timeout_seconds == 60


@pytest.mark.parametrize("broken, expected", [
    ("runbooks:\n  - slug: x\n    steps: [\n", "file1.yaml: line"),
    (RUNBOOK.replace("action: wait", "action: wiat"),
     "file1.yaml: runbook 'payments-failover', step 2 'Wait for the standby': action: unknown action 'wiat'; known actions:"),
    (RUNBOOK.replace("params: {seconds: 5}", "params: {}"),
     "file1.yaml: runbook 'payments-failover', step 2 'Wait for the standby': params.seconds: is required"),
    (RUNBOOK.replace("params: {seconds: 5}", "params: {seconds: -3}"),
     "params.seconds: must be greater than zero, got -3"),
    (RUNBOOK.replace("path: /health}", "path: /health, verb: GET}"), "params.verb: unknown parameter"),
    (RUNBOOK.replace("target: web", "target: webb"),
     "step 1 'Check health': params.target: the system binds no target 'webb'; it binds: db, web"),
    (RUNBOOK.replace("target: web", "target: db"),
     "params.target: http.request needs a http target, 'db' is 'sqlite'"),
    (RUNBOOK.replace("timeout: 1m", "timeout: soon"), "timeout: write a positive duration"),
    (RUNBOOK.replace("system: payments", "system: billing"), "system: unknown system 'billing'"),
])
def test_a_broken_runbook_is_refused_whole_with_a_clear_message(broken, expected):
    do_import(SYSTEM)
    before = counts()
    with pytest.raises(RunbookFormatError) as refused:
        do_import(RUNBOOK.replace("slug: payments-failover", "slug: other-runbook"), broken)
    assert expected in str(refused.value)
    assert counts() == before  # not even the valid runbook of the same import was saved


@pytest.mark.parametrize("value", ["-5", -5, "0", "soon", "5x"])
def test_a_negative_or_nonsense_rto_is_refused(value):
    with pytest.raises(RunbookFormatError) as refused:
        do_import(SYSTEM.replace("tier: 1", f"tier: 1\n    rto_target: {value!r}" if isinstance(value, str) else f"tier: 1\n    rto_target: {value}"))
    assert "system 'payments': rto_target: write a positive duration such as 90, 90s, 30m, 4h or 1h30m" in str(refused.value)
    assert System.objects.count() == 0


def test_a_secret_in_a_target_is_refused():
    with pytest.raises(RunbookFormatError) as refused:
        do_import(SYSTEM.replace("path: /tmp/payments.sqlite3}", "path: /tmp/p.sqlite3, password: hunter2}"))
    assert "targets.db.password: secrets are never stored" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_every_problem_of_an_import_is_reported_at_once():
    with pytest.raises(RunbookFormatError) as refused:
        do_import(SYSTEM, RUNBOOK.replace("action: wait", "action: nope").replace("path: /health}", "path: /health, x: 1}"))
    assert len(refused.value.problems) == 2


def test_the_command_imports_a_folder_and_export_round_trips(tmp_path: Path):
    (tmp_path / "a-system.yaml").write_text(SYSTEM)
    (tmp_path / "b-runbook.yml").write_text(RUNBOOK)
    out = StringIO()
    call_command("runbooks", "import", str(tmp_path), stdout=out)
    assert "new runbook versions: payments-failover v1" in out.getvalue()

    exported = export_runbooks()
    assert yaml.safe_load(exported)["runbooks"][0]["steps"][1]["params"] == {"seconds": 5}
    out = StringIO()
    call_command("runbooks", "import", str(tmp_path), stdout=out)
    assert "runbooks unchanged: payments-failover" in out.getvalue()
    # The export imports back to the same version: nothing new.
    report = import_runbooks(sources=[("export.yaml", exported)])
    assert report.versions_created == [] and report.runbooks_unchanged == ["payments-failover"]


def test_the_command_names_the_file_step_and_field_and_saves_nothing(tmp_path: Path):
    (tmp_path / "broken.yaml").write_text(SYSTEM + RUNBOOK.replace("runbooks:", "runbooks:", 1).replace("action: wait", "action: sleep"))
    with pytest.raises(CommandError) as refused:
        call_command("runbooks", "import", str(tmp_path / "broken.yaml"))
    assert "Import refused, nothing was saved" in str(refused.value)
    assert "broken.yaml: runbook 'payments-failover', step 2 'Wait for the standby': action: unknown action 'sleep'" in str(refused.value)
    assert counts() == (0, 0, 0, 0)


def test_the_shipped_examples_import(tmp_path: Path):
    from demo.seed import seed

    report, _, _ = seed()
    assert "demo-orders-backup-restore v1" in report.versions_created
    assert report.scenario_versions_created == ["demo-orders-database-lost v1"]
    assert seed()[0].versions_created == []


def test_an_export_carries_the_systems_its_systems_depend_on():
    ledger = """
  - slug: ledger
    name: Ledger
    tier: 0
"""
    do_import(SYSTEM.replace("    tier: 1\n", "    tier: 1\n    depends_on: [ledger]\n") + ledger, RUNBOOK)
    exported = yaml.safe_load(export_runbooks(runbook_slugs=["payments-failover"]))
    assert [s["slug"] for s in exported["systems"]] == ["ledger", "payments"]
    Step.objects.all().delete()
    RunbookVersion.objects.all().delete()
    Runbook.objects.all().delete()
    System.objects.all().delete()
    report = import_runbooks(sources=[("export.yaml", yaml.safe_dump(exported))])
    assert sorted(report.systems_created) == ["ledger", "payments"]
    assert list(System.objects.get(slug="payments").dependencies.values_list("slug", flat=True)) == ["ledger"]
