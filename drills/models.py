"""What we run and learn: drills, their step runs, measurements with evidence, and the timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from runbooks.models import DrillKind, RunbookVersion, ScenarioVersion, Step, System


class IndependentCapacity(models.TextChoices):
    RAN = "ran", "ran the drill"
    WITNESSED = "witnessed", "witnessed the drill"


class Drill(models.Model):
    class Mode(models.TextChoices):
        LIVE = "live", "Live"
        DRY_RUN = "dry_run", "Dry-run"
        # Walked through by people, never executed (drills/tabletop.py); proves no figure.
        TABLETOP = "tabletop", "Tabletop"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for a person"
        # A tabletop being walked through. Deliberately outside ACTIVE: the engine (advance, claim,
        # finish, the sweep) and the people-action services only ever touch ACTIVE drills, so no
        # path can dispatch, execute or measure a tabletop's steps.
        WALKING = "walking", "Tabletop in progress"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"

    ACTIVE = (Status.RUNNING, Status.WAITING)
    # Happening now, for pages ("Running now") and for abort: ACTIVE drills and walking tabletops.
    IN_PROGRESS = (Status.RUNNING, Status.WAITING, Status.WALKING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.ABORTED)

    runbook_version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="drills")
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="drills")
    kind = models.CharField(max_length=20, choices=DrillKind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.LIVE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="Why the drill ended as it did.")
    # What the drill is pinned to (drills/snapshot.py): the workers act on these bindings, and an
    # approval is recorded against this digest.
    snapshot = models.JSONField(default=dict)
    snapshot_digest = models.CharField(max_length=64, blank=True)
    # Generated history (the demo estate, manage.py sample_estate): shown as SAMPLE wherever it
    # appears, so nobody mistakes it for a drill that ran.
    sample = models.BooleanField(default=False, help_text="Generated sample data, not a drill that ran.")
    # The scenario a tabletop is played against, pinned like the runbook version.
    scenario_version = models.ForeignKey(ScenarioVersion, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="drills")
    # Someone independent of the team ran or witnessed the drill (DORA Art. 24(4), ISO 22301 §8.5:
    # tests by independent parties); a name, because they are often not users (an external auditor).
    independent_tester = models.CharField(max_length=200, blank=True)
    independent_capacity = models.CharField(max_length=10, choices=IndependentCapacity.choices, blank=True)
    independent_recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                                on_delete=models.SET_NULL, related_name="+")
    independent_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["system", "-created_at"]), models.Index(fields=["-created_at"])]

    def __str__(self) -> str:
        return f"Drill #{self.pk} · {self.runbook_version}"

    def get_absolute_url(self) -> str:
        return reverse("drills:drill_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_dry_run(self) -> bool:
        return self.mode == self.Mode.DRY_RUN

    @property
    def is_tabletop(self) -> bool:
        return self.mode == self.Mode.TABLETOP

    @property
    def mode_word(self) -> str:
        """How messages, the timeline and the audit trail name this drill."""
        return {self.Mode.LIVE: "live drill", self.Mode.DRY_RUN: "dry-run", self.Mode.TABLETOP: "tabletop"}[self.mode]

    @property
    def shown_status(self) -> StatusWords:
        """The drill's status in a coordinator's words; a dry-run that ended changed nothing and says so."""
        if self.is_dry_run and self.status in DRY_RUN_DRILL_WORDS:
            return DRY_RUN_DRILL_WORDS[self.status]
        return StatusWords(self.status, self.get_status_display(), DRILL_STATUS_MEANINGS.get(self.status, ""))

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def targets(self) -> dict[str, dict]:
        """The target bindings pinned when the drill was created (not the system's current ones)."""
        return self.snapshot.get("targets", {})

    @property
    def environment(self) -> str:
        return self.snapshot.get("environment", "")

    @property
    def rto_target_seconds(self) -> float:
        return float(self.snapshot.get("rto_target_seconds") or self.system.rto_target_seconds)

    @property
    def rpo_target_seconds(self) -> float:
        return float(self.snapshot.get("rpo_target_seconds") or self.system.rpo_target_seconds)

    # Read through the (usually prefetched) measurements, so a list of drills costs no extra query.
    def measurement(self, kind: str) -> Measurement | None:
        return next((m for m in self.measurements.all() if m.kind == kind), None)

    @property
    def rto(self) -> Measurement | None:
        return self.measurement("rto")

    @property
    def rpo(self) -> Measurement | None:
        return self.measurement("rpo")


@dataclass(frozen=True)
class StatusWords:
    key: str        # for CSS and tests: the stored status, or planned / would_fail in a dry-run
    label: str
    meaning: str    # the tooltip: what the status means and what happens next


class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        POLLING = "polling", "Waiting on operation"
        WAITING = "waiting", "Waiting for a person"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        # A tabletop item the team could not get past (a missing access, an unclear instruction).
        BLOCKED = "blocked", "Blocked"

    DONE = (Status.SUCCEEDED, Status.SKIPPED)
    FINISHED = (Status.SUCCEEDED, Status.SKIPPED, Status.FAILED, Status.CANCELLED)

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveIntegerField(default=0, help_text="How many times a worker claimed the step.")
    # The claim: a worker owns the step while claim_token matches and the lease runs; a message
    # that arrives for a claimed step does nothing (see drills/engine.py).
    phase = models.CharField(max_length=4, default="run")
    claim_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # How long a claim holds before the step is presumed lost: the action's call time limit plus the
    # grace, fixed when the drill is created so the claim statement needs nothing else.
    lease_seconds = models.FloatField(default=35.0)
    # The status a claim took the step from (pending, polling, or running for a reclaim): the claim
    # sets it in the same UPDATE, which can only return new values.
    claimed_from = models.CharField(max_length=10, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_state = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    marks = models.JSONField(default=dict, blank=True, help_text="Measurement marks set by this step, ISO times.")
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True, help_text="A participant's confirmation note or skip reason.")
    acted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    # A tabletop's estimate of how long the step would take in a real recovery: never a measurement.
    estimated_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["drill", "position"]
        constraints = [models.UniqueConstraint(fields=["drill", "position"], name="unique_step_run_position")]
        indexes = [models.Index(fields=["status", "drill"])]

    def __str__(self) -> str:
        return f"{self.drill_id}/{self.position} {self.step.name}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def shown_status(self) -> StatusWords:
        """The status in a coordinator's words, with what it means. A dry-run's step never changed
        anything, so it reads *Planned* or *Would fail*, never *Succeeded*."""
        if self.drill.is_dry_run and self.status in DRY_RUN_STEP_WORDS:
            return DRY_RUN_STEP_WORDS[self.status]
        return STEP_STATUS_WORDS.get(self.status, StatusWords(self.status, self.get_status_display(), ""))

    def mark_times(self) -> dict[str, datetime]:
        """The measurement marks this step set (stored as ISO text), as times."""
        return {name: datetime.fromisoformat(at) for name, at in (self.marks or {}).items()}


STEP_STATUS_WORDS = {status: StatusWords(status, label, meaning) for status, label, meaning in (
    ("pending", "Not started", "Starts when the steps before it are done."),
    ("running", "Running", "A worker is carrying out this step now."),
    ("polling", "In progress", "The step started a long operation (a restore, a failover) and checks on it until it ends."),
    ("waiting", "Waiting for a person", "A participant confirms this step, or an approver decides it, on this page."),
    ("succeeded", "Succeeded", "The step did what it says."),
    ("failed", "Failed", "The step failed for the reason beside it; a coordinator may retry or skip it."),
    ("skipped", "Skipped", "A coordinator skipped it, for the reason beside it."),
    ("cancelled", "Cancelled", "Not run: the drill was aborted or ended before it."),
    ("blocked", "Blocked", "The team could not get past this item."),
)}
DRILL_STATUS_MEANINGS = {
    "draft": "Waits for an approver to approve its start; nothing has run.",
    "running": "Workers are carrying out its steps.",
    "waiting": "A step waits for a participant or an approver on this page.",
    "walking": "People are walking through the steps; nothing is executed.",
    "succeeded": "Every step did what it says.",
    "failed": "A step failed; a coordinator may retry or skip it, or abort the drill.",
    "aborted": "Stopped by a coordinator; steps not yet run were cancelled.",
}
DRY_RUN_DRILL_WORDS = {
    "succeeded": StatusWords("planned", "Planned", "Every step's plan checked out; nothing was changed."),
    "failed": StatusWords("would_fail", "Would fail", "A live run would fail at the step marked so; nothing was changed."),
}
DRY_RUN_STEP_WORDS = {
    "succeeded": StatusWords("planned", "Planned", "Its plan checked out against the real target; nothing was changed."),
    "failed": StatusWords("would_fail", "Would fail", "A live run would fail here, for the reason beside it; nothing was changed."),
}


def marks_of(step_runs: Iterable[StepRun]) -> dict[str, tuple[datetime, StepRun]]:
    """Every mark a drill's steps set, with the step that set it: the one place marks are read."""
    marks: dict[str, tuple[datetime, StepRun]] = {}
    for run in step_runs:
        for name, at in run.mark_times().items():
            marks[name] = (at, run)
    return marks


class Measurement(models.Model):
    class Kind(models.TextChoices):
        RTO = "rto", "RTO"
        RPO = "rpo", "RPO"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="measurements")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    value_seconds = models.FloatField(null=True, blank=True, help_text="Empty when it could not be measured.")
    error_bound_seconds = models.FloatField(null=True, blank=True)
    target_seconds = models.FloatField()
    met = models.BooleanField(null=True)
    method = models.CharField(max_length=200)
    lost_rows = models.IntegerField(null=True, blank=True)
    # Timestamps, clock, probe interval, canary rows...: everything an auditor needs to redo the sum.
    evidence = models.JSONField(default=dict)
    measured_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["drill", "kind"]
        constraints = [models.UniqueConstraint(fields=["drill", "kind"], name="unique_measurement_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of drill {self.drill_id}: {self.value_seconds}"


class EventKind(models.TextChoices):
    """Every kind of entry on a drill's timeline (drills/timeline.py writes them)."""

    DRILL_APPROVAL_REQUESTED = "drill.approval_requested", "Start requested"
    DRILL_APPROVED = "drill.approved", "Start approved"
    DRILL_REJECTED = "drill.rejected", "Start rejected"
    DRILL_STARTED = "drill.started", "Drill started"
    DRILL_SUCCEEDED = "drill.succeeded", "Drill succeeded"
    DRILL_FAILED = "drill.failed", "Drill failed"
    DRILL_ABORTED = "drill.aborted", "Drill aborted"
    DRILL_OUTAGE_LEFT_OPEN = "drill.outage_left_open", "Outage left open"
    STEP_STARTED = "step.started", "Step started"
    STEP_RECLAIMED = "step.reclaimed", "Step taken over"
    STEP_SUCCEEDED = "step.succeeded", "Step succeeded"
    STEP_RETRYING = "step.retrying", "Step retrying"
    STEP_FAILED = "step.failed", "Step failed"
    STEP_WAITING = "step.waiting", "Step waiting for a person"
    STEP_CONFIRMED = "step.confirmed", "Step confirmed"
    STEP_APPROVED = "step.approved", "Gate approved"
    STEP_REJECTED = "step.rejected", "Gate rejected"
    STEP_CANCELLED = "step.cancelled", "Step cancelled"
    STEP_RETRY = "step.retry", "Step retried"
    STEP_SKIPPED = "step.skipped", "Step skipped"
    RESOURCE_CREATED = "resource.created", "Resource created"
    RESOURCE_DELETED = "resource.deleted", "Resource deleted"
    TABLETOP_STARTED = "tabletop.started", "Tabletop started"
    TABLETOP_ITEM_DONE = "tabletop.item_done", "Item done"
    TABLETOP_ITEM_SKIPPED = "tabletop.item_skipped", "Item skipped"
    TABLETOP_ITEM_BLOCKED = "tabletop.item_blocked", "Item blocked"
    TABLETOP_INJECT_RELEASED = "tabletop.inject_released", "Inject released"
    TABLETOP_ENDED = "tabletop.ended", "Tabletop ended"


class DrillEvent(models.Model):
    """The append-only timeline of a drill. Written in the same transaction as the change it tells."""

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="events")
    step_run = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(help_text="On the measurement clock.")
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    message = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["drill", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}: {self.message}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if self.pk is not None:
            raise ValidationError("drill events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ValidationError("drill events are append-only")


class CanaryRun(models.Model):
    """The canary writer of one live drill: writes rows into the target until the outage starts."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking it can write"
        WRITING = "writing", "Writing"
        STOPPED = "stopped", "Stopped"

    drill = models.OneToOneField(Drill, on_delete=models.CASCADE, related_name="canary")
    target = models.CharField(max_length=100)
    interval_seconds = models.FloatField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WRITING)
    next_tick_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    failed_writes = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    stopped_reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"canary of drill {self.drill_id} on {self.target}"


class CanaryWrite(models.Model):
    """One committed canary row, kept on our side too: the lost-row count is what we wrote before the
    outage minus what survived in the recovered copy."""

    canary = models.ForeignKey(CanaryRun, on_delete=models.CASCADE, related_name="writes")
    seq = models.PositiveIntegerField()
    # The time the row carries (taken before the write) and the time its write had committed: a copy
    # taken between the two may or may not hold the row, so the RPO's bound runs to the latter.
    written_at = models.DateTimeField()
    committed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["canary", "seq"]
        constraints = [models.UniqueConstraint(fields=["canary", "seq"], name="unique_canary_seq")]


class Approval(models.Model):
    """A decision on a gate: the start of a live drill on production, or an ``approval`` step.
    Written once, when an approver decides; a gate without a row is still pending."""

    class Gate(models.TextChoices):
        START = "start", "Start of a production drill"
        STEP = "step", "Approval step"

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="approvals")
    step_run = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="approvals")
    gate = models.CharField(max_length=10, choices=Gate.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    comment = models.TextField()
    # The drill snapshot the approver saw and approved (drills/snapshot.py).
    snapshot_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["drill", "decided_at"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.decided_by} ({self.get_gate_display()}, drill {self.drill_id})"


class DrillResource(models.Model):
    """Something a step of this drill created in the world (a restored database, a snapshot), kept
    until it is deleted: by a cleanup step, or by the sweep once its time to live ends. Listed on the
    drill page so nobody pays a month for a forgotten restore."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Exists"
        DELETING = "deleting", "Being deleted"
        DELETED = "deleted", "Deleted"
        FAILED = "failed", "Could not be deleted"

    drill = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="resources")
    step_run = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.CharField(max_length=40)
    kind = models.CharField(max_length=80)
    identifier = models.CharField(max_length=500)
    target = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=60, blank=True)
    account = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["drill", "created_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "identifier"], name="unique_drill_resource")]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.identifier}"


class Presence(models.Model):
    """Who is looking at a tabletop: touched by every poll of its page, so "present" means seen in
    the last minute (drills/tabletop.py)."""

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["drill", "user"], name="unique_presence")]
        indexes = [models.Index(fields=["drill", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.user} at drill {self.drill_id}"


class WorkerHeartbeat(models.Model):
    """A worker host's sign of life and the queues it serves, written every few seconds by the worker
    itself: a step routed to a queue nobody serves says so instead of waiting in silence."""

    name = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.queues)})"
