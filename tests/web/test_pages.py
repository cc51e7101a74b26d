"""The coordinator's pages through Django's test client: sign-in everywhere, importing and
exporting runbooks in the browser, starting a drill, and the live page's htmx endpoints."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

from drills.models import Drill, StepRun
from runbooks.models import Runbook, RunbookVersion, System
from tests.support.scenarios import backup_restore_runbook_yaml as runbook_yaml
from tests.support.scenarios import orders_system_yaml, system_and_runbook
from tests.support.waiting import wait_for_drill

PAGES = ["/", "/systems/", "/runbooks/", "/drills/"]


@pytest.fixture
def signed_in(client: Client, coordinator) -> Client:
    client.force_login(coordinator)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES + ["/runbooks/export.yaml", "/drills/1/progress/"])
def test_every_page_asks_a_stranger_to_sign_in(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_signing_in_with_the_wrong_password_is_refused(client: Client, coordinator):
    response = client.post("/login/", {"username": "casey", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_htmx_is_served_by_the_app_itself(signed_in: Client):
    page = signed_in.get("/").content.decode()
    assert "https://" not in page.split("<body")[0], "no asset may come from a CDN"
    assert "/static/django_htmx/htmx-2.min.js" in page
    script = signed_in.get("/static/django_htmx/htmx-2.min.js")
    assert script.status_code == 200
    assert b"htmx" in b"".join(script.streaming_content)


@pytest.mark.django_db
def test_uploading_a_broken_runbook_shows_every_problem_and_imports_nothing(signed_in: Client, orders_db):
    broken = orders_system_yaml(orders_db, "http://127.0.0.1:9") + """
runbooks:
  - slug: broken
    title: Broken
    system: orders
    kind: backup_restore
    steps:
      - name: Mystery
        action: teleport.database
"""
    response = signed_in.post("/runbooks/import/", {"text": broken})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "unknown action" in body and "teleport.database" in body
    assert not System.objects.exists() and not Runbook.objects.exists()


@pytest.mark.django_db
def test_uploading_a_file_imports_it_and_an_unchanged_upload_adds_no_version(signed_in: Client, orders_db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = orders_system_yaml(orders_db, "http://127.0.0.1:9") + runbook_yaml().split("\n", 1)[1]
    for expected_versions in (1, 1):
        upload = SimpleUploadedFile("orders.yaml", text.encode(), content_type="application/yaml")
        response = signed_in.post("/runbooks/import/", {"files": [upload]}, follow=True)
        assert response.status_code == 200
        assert RunbookVersion.objects.filter(runbook__slug="demo-orders-backup-restore").count() == expected_versions
    assert "runbooks unchanged" in response.content.decode().lower()

    page = signed_in.get("/runbooks/demo-orders-backup-restore/").content.decode()
    assert "Back up the orders database" in page and "Start live drill" in page
    # The page names the format's document as a link the app itself serves.
    assert 'href="/runbooks/format.md"' in response.content.decode()
    assert "# " in signed_in.get("/runbooks/format.md").content.decode()


@pytest.mark.django_db
def test_an_empty_upload_is_refused_with_a_message(signed_in: Client):
    response = signed_in.post("/runbooks/import/", {"text": "  "})
    assert response.status_code == 400
    assert "Choose a YAML file or paste YAML" in response.content.decode()


@pytest.mark.django_db
def test_the_exported_yaml_imports_back_unchanged(signed_in: Client, import_yaml, orders_db):
    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), runbook_yaml())
    response = signed_in.get("/runbooks/demo-orders-backup-restore/export.yaml")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    exported = response.content.decode()
    assert yaml.safe_load(exported)["runbooks"][0]["slug"] == "demo-orders-backup-restore"

    report = import_yaml(exported)
    assert report.runbooks_unchanged == ["demo-orders-backup-restore"] and not report.versions_created


def test_a_dry_run_started_from_the_runbook_page_opens_the_live_drill_page(worker, signed_in: Client, import_yaml,
                                                                            orders_db, orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    response = signed_in.post("/runbooks/demo-orders-backup-restore/start/", {"mode": "dry_run"})
    drill = Drill.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/drills/{drill.pk}/"
    assert drill.mode == Drill.Mode.DRY_RUN and drill.started_by.username == "casey"

    wait_for_drill(drill)
    page = signed_in.get(f"/drills/{drill.pk}/").content.decode()
    assert 'id="drill-status" data-status="succeeded"' in page
    assert "DRY-RUN" in page
    # A finished drill's page stops polling.
    assert 'hx-trigger="every 1s"' not in page


def test_a_participant_confirms_a_manual_step_from_the_live_page(worker, signed_in: Client, import_yaml, orders_db,
                                                                 service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Tell the stakeholders
        action: manual.confirm
        params: {{instructions: "Post in #incident"}}
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    signed_in.post("/runbooks/drill-under-test/start/", {"mode": "live", "confirmed": "1"})
    drill = wait_for_drill(Drill.objects.get(), statuses=("waiting",))

    page = signed_in.get(f"/drills/{drill.pk}/").content.decode()
    assert "Post in #incident" in page and "Confirm done" in page
    assert 'hx-trigger="every 1s"' in page

    partial = signed_in.post(f"/drills/{drill.pk}/steps/1/confirm/", {"note": "posted at 10:02"},
                             headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert '<div id="drill-progress"' in partial.content.decode()
    drill = wait_for_drill(drill)
    assert drill.status == Drill.Status.SUCCEEDED
    step = drill.step_runs.get(position=1)
    assert step.note == "posted at 10:02" and step.acted_by.username == "casey"

    again = signed_in.post(f"/drills/{drill.pk}/steps/1/confirm/", {"note": "twice"}, follow=True)
    assert "not running any more" in again.content.decode()


def test_the_progress_partial_swaps_nothing_when_nothing_changed(worker, signed_in: Client, import_yaml, orders_db,
                                                                 service):
    import_yaml(*system_and_runbook(orders_db, service.url, """
      - name: Wait for the team
        action: manual.confirm
        params: {instructions: "Ready?"}
"""))
    signed_in.post("/runbooks/drill-under-test/start/", {"mode": "live", "confirmed": "1"})
    drill = wait_for_drill(Drill.objects.get(), statuses=("waiting",))

    first = signed_in.get(f"/drills/{drill.pk}/progress/", headers={"HX-Request": "true"})
    assert first.status_code == 200
    seen = first.content.decode().split("?seen=")[1].split('"')[0]
    assert signed_in.get(f"/drills/{drill.pk}/progress/?seen={seen}").status_code == 204

    abort = signed_in.post(f"/drills/{drill.pk}/abort/", {"reason": ""}, headers={"HX-Request": "true"})
    assert "Say why the drill is aborted" in abort.content.decode()
    drill.refresh_from_db()
    assert drill.status == Drill.Status.WAITING

    signed_in.post(f"/drills/{drill.pk}/abort/", {"reason": "team not available"})
    drill.refresh_from_db()
    assert drill.status == Drill.Status.ABORTED
    assert signed_in.get(f"/drills/{drill.pk}/progress/?seen={seen}").status_code == 200
    assert drill.step_runs.get().status == StepRun.Status.CANCELLED


@pytest.mark.django_db
def test_a_tabletop_exercise_does_not_replace_a_systems_measured_figures(signed_in: Client, import_yaml, orders_db,
                                                                           coordinator):
    from drills.models import Measurement
    from runbooks.models import DrillKind

    import_yaml(orders_system_yaml(orders_db, "http://127.0.0.1:9"), runbook_yaml())
    version = Runbook.objects.get().latest_version
    live = Drill.objects.create(runbook_version=version, system=version.runbook.system, kind=DrillKind.BACKUP_RESTORE,
                                status=Drill.Status.SUCCEEDED, started_by=coordinator)
    Measurement.objects.create(drill=live, kind="rto", value_seconds=252.0, error_bound_seconds=0.5,
                               target_seconds=3600, met=True, method="test", evidence={})
    Drill.objects.create(runbook_version=version, system=version.runbook.system, kind=DrillKind.TABLETOP,
                         status=Drill.Status.SUCCEEDED, started_by=coordinator)
    page = signed_in.get("/").content.decode()  # the dashboard's systems and what each last proved
    assert f"#{live.pk}</a>" in page and "4 m 12 s" in page


@pytest.mark.django_db
def test_a_person_without_a_role_gets_a_page_that_explains_it(client: Client):
    from tests.support.roles import user_with_role

    user_with_role("ada", "admin")
    client.force_login(user_with_role("nemo", None))
    response = client.get("/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You have no role in drdrill yet" in body and "Sign out" in body
    # Whom to ask, and no link back to the dashboard that would refuse them again (the loop).
    assert "<strong>ada</strong>" in body and "Back to the dashboard" not in body and "mainnav" not in body


@pytest.mark.django_db
def test_the_import_address_leads_back_to_the_form(signed_in: Client):
    response = signed_in.get("/runbooks/import/")
    assert response.status_code == 302 and response["Location"] == "/runbooks/#import"


def test_the_evidence_pack_holds_steps_figures_and_timeline(worker, signed_in: Client, import_yaml, orders_db,
                                                            orders_service):
    import_yaml(orders_system_yaml(orders_db, orders_service), runbook_yaml())
    signed_in.post("/runbooks/demo-orders-backup-restore/start/", {"mode": "live", "confirmed": "1"})
    drill = wait_for_drill(Drill.objects.get(), timeout=90)
    response = signed_in.get(f"/drills/{drill.pk}/evidence.json")
    assert response.status_code == 200
    pack = response.json()
    assert pack["status"] == "succeeded" and len(pack["steps"]) == 6
    rto = next(m for m in pack["measurements"] if m["kind"] == "rto")
    assert rto["value_seconds"] == pack["rto_seconds"] and rto["evidence"]["outage_start"]["at"]
    assert pack["steps"][3]["marks"]["outage_start"] == rto["evidence"]["outage_start"]["at"]
    assert pack["timeline"][0]["kind"] == "drill.started" and pack["timeline"][-1]["kind"] == "drill.succeeded"
