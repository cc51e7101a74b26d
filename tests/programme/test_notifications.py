"""The communication plan: a webhook receiver (a real local HTTP service, through Apprise's json://)
and e-mail (Django's backend, so Django's test outbox sees it) are told when a drill starts, waits
for a person, a step fails and it ends. A receiver answering 500 is retried with backoff, the
failure shows in the drill's delivery log, and the drill ends as it would have anyway."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from drills.models import Drill, EventKind, Measurement, StepRun
from drills.services import confirm_step
from drills.signals import drill_ended
from drills.timeline import record_event
from programme.models import Delivery, Subscription
from programme.notifications import DEFAULT_EVENTS
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill, wait_until

pytestmark = pytest.mark.worker


def subscribe(name: str, channel: str, address: str, **fields: Any) -> Subscription:
    return Subscription.objects.create(name=name, channel=channel, address=address, events=list(DEFAULT_EVENTS),
                                       **fields)


def titles(service, path: str = "/hook") -> list[str]:
    return [json.loads(body)["title"] for body in service.posted(path)]


def test_a_webhook_hears_the_start_the_person_awaited_the_failure_and_the_end(worker, import_yaml, orders_db,
                                                                             service, start_drill, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Tell the stakeholders
        action: manual.confirm
        params: {{instructions: "Post in #incident"}}
      - name: Call the failover endpoint
        action: http.request
        params: {{url: "{service.url}/fail", method: POST}}
"""))
    subscribe("DR webhook", Subscription.Channel.APPRISE, service.url.replace("http://", "json://") + "/hook")
    drill = start_drill("drill-under-test")
    wait_for_drill(drill, statuses=("waiting",))
    wait_until(lambda: any("waits for a person" in t for t in titles(service)), message="the awaited-person message")
    confirm_step(step_run=drill.step_runs.get(position=1), user=coordinator, note="posted")
    wait_for_drill(drill)
    wait_until(lambda: len(titles(service)) >= 4, timeout=30, message="four messages")

    heard = titles(service)
    assert any(t.endswith(": started") for t in heard)
    assert any(t.endswith(": waits for a person") for t in heard)
    assert any(t.endswith(": a step failed") for t in heard)
    assert any(t.endswith(": failed") for t in heard), heard
    end = next(json.loads(b) for b in service.posted("/hook") if json.loads(b)["title"].endswith(": failed"))
    assert "post-drill report is due by" in end["message"] and f"/drills/{drill.pk}/" in end["message"]
    failure = next(json.loads(b) for b in service.posted("/hook") if json.loads(b)["title"].endswith("a step failed"))
    assert "Call the failover endpoint" in failure["message"]
    assert set(Delivery.objects.filter(drill=drill).values_list("status", flat=True)) == {"sent"}


def test_a_receiver_answering_500_is_retried_and_logged_and_the_drill_is_unchanged(worker, import_yaml, orders_db,
                                                                                  service, start_drill, coordinator):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}
"""))
    subscribe("Broken status page", Subscription.Channel.APPRISE, service.url.replace("http://", "json://") + "/fail")
    subscribe("DR webhook", Subscription.Channel.APPRISE, service.url.replace("http://", "json://") + "/hook")
    drill = wait_for_drill(start_drill("drill-under-test"))
    assert drill.status == Drill.Status.SUCCEEDED
    assert drill.outcome == "Every step succeeded or was skipped."

    broken = Delivery.objects.filter(drill=drill, subscription__name="Broken status page")
    # Each message to the broken receiver: three attempts (1 + 2 retries with backoff), then failed.
    wait_until(lambda: sorted(broken.all().values_list("status", flat=True)) == ["failed", "failed"], timeout=40,
               message="the failed deliveries to be given up")
    assert all(d.attempts == 3 and "500" in d.last_error for d in broken)
    assert service.count("/fail") == 6
    assert set(Delivery.objects.filter(drill=drill, subscription__name="DR webhook").values_list("status", flat=True)) == {"sent"}

    drill.refresh_from_db()
    assert drill.status == Drill.Status.SUCCEEDED and drill.outcome == "Every step succeeded or was skipped."
    client = Client()
    client.force_login(coordinator)
    log = client.get(f"/programme/drills/{drill.pk}/notifications/").content.decode()
    assert "Broken status page" in log and "Failed" in log and "error=500" in log


@pytest.fixture
def tasks_in_this_process():
    """Celery runs tasks in the calling process, so Django's mail outbox (per process) sees them. The
    worker's hook that recycles database connections between tasks would close this test's
    transaction, so it is off meanwhile."""
    from celery.signals import task_prerun

    from config.celery import app, replace_broken_connections

    app.conf.task_always_eager = True
    task_prerun.disconnect(replace_broken_connections)
    yield
    task_prerun.connect(replace_broken_connections, weak=False)
    app.conf.task_always_eager = False


@pytest.mark.django_db
def test_email_subscribers_receive_the_same_messages(tasks_in_this_process, mailoutbox, import_yaml, orders_db,
                                                     coordinator, django_capture_on_commit_callbacks):
    import_yaml(*system_and_runbook(orders_db, "http://127.0.0.1:9", """
      - name: Tell the stakeholders
        action: manual.confirm
        params: {instructions: "Post in #incident"}
      - name: Fail over
        action: wait
        params: {seconds: 1}
"""))
    from runbooks.models import Runbook

    version = Runbook.objects.get().latest_version
    subscribe("Stakeholders", Subscription.Channel.EMAIL, "dr-team@example.com, cto@example.com")
    drill = Drill.objects.create(runbook_version=version, system=version.runbook.system, kind=version.runbook.kind,
                                 status=Drill.Status.RUNNING, started_by=coordinator)
    runs = [StepRun.objects.create(drill=drill, step=step, position=step.position) for step in version.steps.all()]
    with django_capture_on_commit_callbacks(execute=True):
        record_event(drill.pk, EventKind.DRILL_STARTED, "Live drill started by casey.")
        record_event(drill.pk, EventKind.STEP_WAITING, "Step 1 “Tell the stakeholders” waits for a person.", step_run=runs[0])
        record_event(drill.pk, EventKind.STEP_SUCCEEDED, "Step 1 confirmed.", step_run=runs[0])  # not told
        record_event(drill.pk, EventKind.STEP_FAILED, "Step 2 “Fail over” failed: standby unreachable.", step_run=runs[1])
    from django.utils import timezone

    Drill.objects.filter(pk=drill.pk).update(status=Drill.Status.FAILED, finished_at=timezone.now(),
                                             outcome="Step 2 failed.")
    Measurement.objects.create(drill=drill, kind="rto", value_seconds=95, error_bound_seconds=1, target_seconds=120,
                               met=True, method="step marks")
    with django_capture_on_commit_callbacks(execute=True):
        drill_ended.send(sender=Drill, drill_id=drill.pk)

    subjects = [m.subject for m in mailoutbox]
    assert len(subjects) == 4, subjects
    assert [s.rsplit(": ", 1)[1] for s in subjects] == ["started", "waits for a person", "a step failed", "failed"]
    assert mailoutbox[0].to == ["dr-team@example.com", "cto@example.com"]
    assert "RTO: 1 m 35 s" in mailoutbox[-1].body or "RTO: 95 s" in mailoutbox[-1].body
    assert "MET" in mailoutbox[-1].body
    # Told twice (a duplicate signal), sent once.
    with django_capture_on_commit_callbacks(execute=True):
        drill_ended.send(sender=Drill, drill_id=drill.pk)
    assert len(mailoutbox) == 4
