"""Faults in drdrill's own machinery, with real processes: a worker SIGKILLed at each phase of a
step, the broker restarted mid-drill, the database connections dropped, two workers racing for one
step, a step recorded while another drill of its runbook starts. Whatever happens, the drill ends
cleanly, its timeline holds every event exactly once, and no side effect is applied twice.

The moments are made exact rather than guessed: the test service holds a request until the test
lets it go (the worker is then inside the action), a frozen consumer holds the next step's message
(the worker has not claimed it), and a row lock held by the test stops the worker's record of the
result while it waits for that lock. tests/test_redelivery.py covers the neighbouring cases: a request that the
service applies after its caller was killed, and duplicate messages on one worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from drills.clock import db_now
from drills.models import Drill, DrillEvent, EventKind, StepRun
from tests.support.http_service import ControlledService
from tests.support.scenarios import system_and_runbook
from tests.support.waiting import wait_for_drill, wait_until
from tests.support.workers import ROOT, WorkerPool

pytestmark = pytest.mark.worker

REQUEST_TIMEOUT = 4  # seconds: a step's lease is this + 1 + the test grace of 2 s


class HoldingService(ControlledService):
    """The controlled service, plus: hold the next request to one path until the test releases
    it, then answer it normally or drop it unanswered (as a server whose handler died would)."""

    def __init__(self) -> None:
        self.hold_path: str | None = None
        self.held = threading.Event()
        self.answered = threading.Event()
        self._release = threading.Event()
        self._drop = False
        super().__init__()

    def hold_next(self, path: str) -> None:
        with self.lock:
            self.hold_path = path
            self.held.clear()
            self.answered.clear()
            self._release.clear()
            self._drop = False

    def release(self, *, drop: bool = False) -> None:
        self._drop = drop
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def requests_to(self, path: str) -> list[str | None]:
        """The idempotency keys of the requests to ``path``, in arrival order."""
        with self.lock:
            return [key for _, p, key in self.requests if p == path]

    def _take_hold(self, path: str) -> bool:
        with self.lock:
            if self.hold_path != path:
                return False
            self.hold_path = None
            return True

    def _handler(self) -> type:
        service = self
        base = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def _handle(self) -> None:
                path = urlparse(self.path).path
                if not service._take_hold(path):
                    super()._handle()
                    return
                service.held.set()
                service._release.wait(30)
                if service._drop:
                    with service.lock:
                        service.requests.append((self.command, path, self.headers.get("Idempotency-Key")))
                    self.close_connection = True
                    return
                super()._handle()
                service.answered.set()

            do_GET = _handle
            do_POST = _handle

        return Handler


@pytest.fixture
def service() -> Iterator[HoldingService]:
    svc = HoldingService()
    svc.start()
    yield svc
    svc.stop()


def apply_step(service: HoldingService, name: str, tag: str) -> str:
    return f"""
      - name: {name}
        action: http.request
        params: {{url: "{service.url}/apply?{tag}", method: POST, timeout: {REQUEST_TIMEOUT}}}"""


def health_step(service: HoldingService) -> str:
    return f"""
      - name: Check health
        action: http.request
        params: {{url: "{service.url}/health"}}"""


def worker_pid(step_run: StepRun) -> int:
    step_run.refresh_from_db()
    assert step_run.status == StepRun.Status.RUNNING, step_run.status
    return int(step_run.worker.rsplit(":", 1)[1])


def assert_every_event_recorded_once(drill: Drill) -> None:
    events = list(DrillEvent.objects.filter(drill=drill).order_by("at", "id").values_list("kind", "step_run__position"))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "drill.started" and kinds.count("drill.started") == 1, kinds
    assert kinds[-1] == f"drill.{drill.status}" and kinds.count(f"drill.{drill.status}") == 1, kinds
    for run in drill.step_runs.all():
        of_step = [kind for kind, position in events if position == run.position]
        assert run.status == StepRun.Status.SUCCEEDED, (run.position, run.status, run.error)
        assert of_step.count("step.started") == 1, (run.position, of_step)
        assert of_step.count("step.reclaimed") == run.attempt - 1, (run.position, run.attempt, of_step)
        assert of_step[0] == "step.started" and of_step[-1] == "step.succeeded", (run.position, of_step)
        assert of_step.count("step.succeeded") == 1, (run.position, of_step)


def assert_each_change_applied_once(service: HoldingService, drill: Drill, positions: list[int]) -> None:
    """Each mutating step reached the endpoint under its own stable key, and changed it once."""
    keys = {f"drdrill-drill-{drill.pk}-step-{run.pk}" for run in drill.step_runs.filter(position__in=positions)}
    assert service.applied == {key: 1 for key in keys}
    assert set(service.requests_to("/apply")) == keys


def freeze(pool: WorkerPool) -> None:
    os.kill(pool.process.pid, signal.SIGSTOP)


def thaw(pool: WorkerPool) -> None:
    os.kill(pool.process.pid, signal.SIGCONT)


# --- a worker killed at each phase of a step ------------------------------------------------------

def test_a_whole_worker_killed_inside_a_step_it_took_in_process_is_recovered_by_the_sweep(worker, import_yaml,
                                                                                         start_drill, orders_db,
                                                                                         service):
    """A worker that finished step 1 goes straight on into step 2 without a broker hop: no message
    names step 2 yet. Killed there, whole (its consumer and every pool process), it leaves step 2
    claimed with nothing in any queue; the sweep re-sends it once the lease ends, and it runs once."""
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    health_step(service) + apply_step(service, "Fail over", "failover")))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "step 2 never reached the service"
    first, second = drill.step_runs.order_by("position")
    first.refresh_from_db()
    second.refresh_from_db()
    # Taken in-process: by the very process that ran step 1, dispatched and started in one statement.
    assert second.status == StepRun.Status.RUNNING and second.worker == first.worker
    assert second.dispatched_at == second.started_at
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()
    service.release(drop=True)  # the killed call never completes on the service's side either
    worker.restart()

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    second.refresh_from_db()
    assert second.attempt == 2 and second.worker != first.worker
    assert_every_event_recorded_once(drill)
    assert len(service.requests_to("/apply")) == 2  # sent twice under one key, applied once
    assert_each_change_applied_once(service, drill, [2])


def test_a_step_taken_in_process_and_also_sent_by_a_message_runs_once(worker, import_yaml, start_drill, orders_db,
                                                                      service):
    """A double delivery of a continued step (the sweep, or a duplicate) finds it claimed and leaves it."""
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    health_step(service) + apply_step(service, "Fail over", "failover")))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "step 2 never reached the service"
    second = drill.step_runs.get(position=2)
    # As the engine and the sweep send it (the claim is one round trip on PostgreSQL), and as an
    # older sender did (the claim in a transaction of its own).
    for args in ([second.pk, drill.pk, 2], [second.pk, drill.pk]):
        current_app.send_task("drills.tasks.run_step", args=args)
    time.sleep(1.0)
    service.release()

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    second.refresh_from_db()
    assert second.attempt == 1
    assert_every_event_recorded_once(drill)
    assert_each_change_applied_once(service, drill, [2])


def test_a_worker_killed_during_its_call_is_replaced_and_the_change_applied_once(worker, import_yaml, start_drill,
                                                                               orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    apply_step(service, "Fail over", "failover") + health_step(service)))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "the step never reached the service"
    step = drill.step_runs.get(position=1)
    os.kill(worker_pid(step), signal.SIGKILL)
    service.release(drop=True)  # the killed call never completes on the service's side either

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    step.refresh_from_db()
    assert step.attempt == 2
    assert_every_event_recorded_once(drill)
    # Sent twice under one key, applied by the second call only.
    assert len(service.requests_to("/apply")) == 2
    assert_each_change_applied_once(service, drill, [1])


def test_a_worker_killed_during_a_poll_resumes_from_the_saved_probes(worker, import_yaml, start_drill, orders_db,
                                                                     service):
    import_yaml(*system_and_runbook(orders_db, service.url, f"""
      - name: Inject the outage
        action: http.request
        params: {{url: "{service.url}/fault?seconds=4", method: POST}}
        marks: [outage_start]
      - name: Wait until healthy
        action: http.wait_healthy
        params: {{url: "{service.url}/health", interval: 0.25, consecutive: 2}}
        marks: [service_restored]""" + apply_step(service, "Re-enable writes", "writes")))
    drill = start_drill("drill-under-test")
    probe = drill.step_runs.get(position=2)
    # Once handed back, the step is POLLING until its next poll is claimed (phase "poll"): wait for
    # either, since on a fast broker the POLLING window can be shorter than this test's check.
    wait_until(lambda: StepRun.objects.filter(pk=probe.pk).filter(
        Q(status=StepRun.Status.POLLING) | Q(phase="poll")).exists(),
               message="the probe step to hand its worker back between polls")
    service.hold_next("/health")
    assert service.held.wait(30), "no poll probed the service"
    probe.refresh_from_db()
    assert probe.phase == "poll"
    saved_probes = probe.poll_state["probes"]
    os.kill(worker_pid(probe), signal.SIGKILL)
    service.release(drop=True)

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    probe.refresh_from_db()
    assert probe.attempt == 2
    # The successor continued the count the dead worker had saved instead of starting over.
    assert probe.evidence["probes"] > saved_probes and probe.evidence["failures"] >= saved_probes
    assert_every_event_recorded_once(drill)
    assert_each_change_applied_once(service, drill, [3])
    # Probing stopped while no worker held the step; the reported bound still contains the truth.
    truth = service.up_at - service.down_at
    rto = drill.measurements.get(kind="rto")
    assert rto.value_seconds - rto.error_bound_seconds - 0.05 <= truth <= rto.value_seconds + 0.05, (rto.value_seconds,
                                                                                                   rto.error_bound_seconds, truth)


def test_a_worker_killed_after_its_call_but_before_recording_does_not_apply_the_change_twice(
        worker, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    apply_step(service, "Fail over", "failover") + health_step(service)))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "the step never reached the service"
    step = drill.step_runs.get(position=1)
    pid = worker_pid(step)
    with transaction.atomic():
        # Recording the result starts by locking this row (on SQLite, by taking the write lock):
        # holding it stops the worker between the finished call and the record of it.
        StepRun.objects.select_for_update().get(pk=step.pk)
        service.release()
        assert service.answered.wait(10), "the service did not answer"
        wait_for_the_recording_to_block()
        os.kill(pid, signal.SIGKILL)

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    step.refresh_from_db()
    if connection.vendor == "postgresql":
        # The record left the worker as one string of statements, which PostgreSQL runs as one
        # transaction whether or not its sender is still there: it landed once the lock was let
        # go, so the call is not made again. The step after it, which that record took for the
        # dead worker, is recovered by the sweep when its lease ends.
        assert step.attempt == 1
        assert len(service.requests_to("/apply")) == 1
        assert drill.events.filter(kind=EventKind.STEP_RECLAIMED, step_run__position=2).count() == 1
    else:
        # The record died with its connection: the successor asked again under the same key; the
        # service recognised it and changed nothing.
        assert step.attempt == 2
        assert len(service.requests_to("/apply")) == 2
    assert_every_event_recorded_once(drill)
    assert_each_change_applied_once(service, drill, [1])


def wait_for_the_recording_to_block() -> None:
    if connection.vendor != "postgresql":
        time.sleep(1.0)  # SQLite shows no lock waiters; the worker needs milliseconds to get there
        return

    def blocked() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))")
            return cursor.fetchone()[0] > 0

    wait_until(blocked, timeout=10, message="the worker to wait for the step's row lock")


# --- the broker and the database fail under a running drill --------------------------------------

def redis_address() -> tuple[str, int]:
    url = urlparse(settings.CELERY_BROKER_URL)
    return url.hostname or "127.0.0.1", url.port or 6379


def redis_answers(host: str, port: int) -> bool:
    done = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "ping"], capture_output=True, text=True)
    return done.stdout.strip() == "PONG"


def start_redis(host: str, port: int) -> None:
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", host, "--port", str(port), "--save", "",
                    "--appendonly", "no"], check=True, capture_output=True)
    wait_until(lambda: redis_answers(host, port), timeout=10, message="Redis to answer again")


def restart_redis(down_for: float) -> None:
    """Stop Redis without saving (every queued and unacknowledged message is lost) and start it
    again. Other test runs may share this Redis: the outage stays short and Redis always comes back."""
    host, port = redis_address()
    try:
        subprocess.run(["redis-cli", "-h", host, "-p", str(port), "shutdown", "nosave"], capture_output=True)
        wait_until(lambda: not redis_answers(host, port), timeout=5, message="Redis to stop")
        time.sleep(down_for)
    finally:
        if not redis_answers(host, port):
            start_redis(host, port)


@pytest.mark.redis
def test_redis_restarted_mid_drill_loses_no_step(worker, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url, apply_step(service, "Drain traffic", "drain") + """
      - name: Let connections drain
        action: wait
        params: {seconds: 3}""" + apply_step(service, "Fail over", "failover") + health_step(service)))
    drill = start_drill("drill-under-test")
    waiting = drill.step_runs.get(position=2)
    wait_until(lambda: StepRun.objects.filter(pk=waiting.pk, status=StepRun.Status.POLLING).exists(),
               message="the wait step to start")
    # Its next poll is a countdown message: gone with the restart, re-sent by the sweep.
    restart_redis(down_for=1.0)
    time.sleep(0.5)
    assert worker.process.poll() is None, (
        f"the worker exited when the broker went away instead of reconnecting: see {worker.log_path} "
        "(Celery 5.7.0's consumer crashes on a lost Redis connection while it holds unacknowledged messages)")

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert_every_event_recorded_once(drill)
    assert_each_change_applied_once(service, drill, [1, 3])
    assert service.count("/apply") == 2


@pytest.mark.postgres
def test_database_connections_dropped_mid_step_are_recovered(worker, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    apply_step(service, "Fail over", "failover") + health_step(service)))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "the step never reached the service"
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    with maintenance_connection() as admin:
        # Every worker connection dies, and for two seconds no new one is let in: the worker's
        # call returns into a dead connection, and sweeps fail until the database is back.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            dropped = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = %s AND pid <> %s", [name, own_pid]).fetchone()[0]
            assert dropped >= 1, "the worker held no connection to drop"
            service.release()
            assert service.answered.wait(10)
            time.sleep(2)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    step = drill.step_runs.get(position=1)
    assert step.attempt == 2  # the first attempt could not record its result; the lease ran out
    assert_every_event_recorded_once(drill)
    assert_each_change_applied_once(service, drill, [1])


@pytest.mark.postgres  # row locks: SQLite locks the whole database for every write
def test_recording_a_step_does_not_wait_for_other_drills_of_the_same_runbook(worker, import_yaml, start_drill,
                                                                              orders_db, service):
    """Starting a drill checks, at commit, that its system and steps exist, taking a share lock on
    those rows. Recording a step of another drill must not need a stronger lock on them: if it did,
    a drill start and a step record would wait for each other, and PostgreSQL would kill one."""
    import_yaml(*system_and_runbook(orders_db, service.url,
                                    apply_step(service, "Fail over", "failover") + health_step(service)))
    service.hold_next("/apply")
    drill = start_drill("drill-under-test")
    assert service.held.wait(30), "the step never reached the service"
    steps = list(drill.step_runs.values_list("step_id", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM runbooks_system WHERE id = %s FOR KEY SHARE", [drill.system_id])
        cursor.execute("SELECT 1 FROM runbooks_step WHERE id = ANY(%s) FOR KEY SHARE", [steps])
        service.release()
        wait_until(lambda: Drill.objects.filter(pk=drill.pk, status=Drill.Status.SUCCEEDED).exists(), timeout=20,
                   message="the drill to finish while another transaction holds share locks on its system and steps")


@contextmanager
def maintenance_connection() -> Iterator[Any]:
    """A connection to the server's ``postgres`` database: PostgreSQL refuses to lock a database
    against new connections from a session inside it."""
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         password=s["PASSWORD"] or None, dbname="postgres", autocommit=True) as admin:
        yield admin


# --- two workers racing for one step ---------------------------------------------------------------

class RivalWorker(WorkerPool):
    """A second worker process on the same broker and database, without beat (beat runs once)."""

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "3",
             "--loglevel", "INFO", "-n", self.node],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.process.poll() is not None or b"ready." in self.log_path.read_bytes(), timeout=60,
                   message=f"the rival worker to get ready (see {self.log_path})")
        assert self.process.poll() is None, f"the rival worker exited: see {self.log_path}"


@pytest.fixture
def rival(worker: WorkerPool, tmp_path: Path) -> Iterator[RivalWorker]:
    pool = RivalWorker(worker.env, tmp_path / "rival.log", node=f"rival-{os.getpid()}@{socket.gethostname()}")
    pool.start()
    yield pool
    pool.stop()


def test_two_workers_racing_for_the_same_step_run_it_once(worker, rival, import_yaml, start_drill, orders_db, service):
    import_yaml(*system_and_runbook(orders_db, service.url, apply_step(service, "Drain traffic", "drain") + """
      - name: Let connections drain
        action: wait
        params: {seconds: 1.5}""" + apply_step(service, "Fail over", "failover")))
    # Both consumers frozen, eight extra copies of step 1's message pile up; thawed at once, both
    # workers' children claim it in the same instant.
    freeze(worker)
    freeze(rival)
    try:
        drill = start_drill("drill-under-test")
        first, waiting = drill.step_runs.order_by("position")[:2]
        for _ in range(8):
            current_app.send_task("drills.tasks.run_step", args=[first.pk])
        time.sleep(0.3)
    finally:
        thaw(worker)
        thaw(rival)
    # Then the poll phase: eight copies due at the very moment the wait step's own poll is.
    wait_until(lambda: StepRun.objects.filter(pk=waiting.pk, status=StepRun.Status.POLLING).exists(),
               message="the wait step to start")
    waiting.refresh_from_db()
    due_in = max((waiting.next_poll_at - db_now()).total_seconds(), 0)
    for _ in range(8):
        current_app.send_task("drills.tasks.run_step", args=[waiting.pk], countdown=due_in)

    drill = wait_for_drill(drill, timeout=60)

    assert drill.status == Drill.Status.SUCCEEDED, drill.outcome
    assert list(drill.step_runs.values_list("attempt", flat=True)) == [1, 1, 1]
    assert_every_event_recorded_once(drill)
    assert service.count("/apply") == 2  # the losers never called the endpoint
    assert_each_change_applied_once(service, drill, [1, 3])
    # From the rival's own log (a recorded fact; asking it over the broker can time out on a busy
    # machine): it ran copies of the step's messages too, and lost.
    ran = [line for line in rival.log_path.read_text().splitlines()
           if "drills.tasks.run_step" in line and "succeeded in" in line]
    assert ran, "the rival worker took no part in the race"
