"""Recovery plans: a scenario that takes out several systems, each recovered by its runbook in the
order their dependencies dictate, and the plan drills that run them (docs/plans.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from drills.models import Drill
from runbooks.models import ImmutableModel, RunbookVersion, System


class Plan(models.Model):
    """The identity of a plan across its versions ("Primary region lost")."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200, help_text="The scenario the plan recovers from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("plans:plan_detail", args=[self.slug])

    @property
    def latest_version(self) -> PlanVersion | None:
        return self.versions.order_by("-number").first()


class PlanVersion(ImmutableModel):
    """One immutable version of a plan. ``spec`` holds the normalised document with the order
    resolved: each system's ``after`` (the plan's systems it waits for) and where that came from
    (``dependencies`` or ``explicit``), so a plan drill runs what was reviewed even if the inventory's
    dependencies change later; a changed dependency makes the next import a new version."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    spec = models.JSONField()
    content_hash = models.CharField(max_length=64)
    source_name = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="unique_plan_version_number")]

    def __str__(self) -> str:
        return f"{self.plan.slug} v{self.number}"

    @property
    def systems(self) -> list[dict]:
        """Each entry: ``system``, ``runbook``, ``after`` (system slugs) and ``order`` (its source)."""
        return list(self.spec["systems"])

    @property
    def rto_target_seconds(self) -> float | None:
        return self.spec.get("rto_target_seconds")


class PlanDrill(models.Model):
    """One run of a plan version: a drill per system, each started once the systems it waits for
    have recovered."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"

    # A tabletop plan drill walks each system's runbook as a tabletop, in the plan's order.
    MODES = (Drill.Mode.LIVE, Drill.Mode.DRY_RUN, Drill.Mode.TABLETOP)
    # A failed plan drill can still move: a system drill retried or skipped to success unblocks
    # the systems that wait for it.
    MOVABLE = (Status.RUNNING, Status.FAILED)

    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="drills")
    mode = models.CharField(max_length=10, choices=Drill.Mode.choices, default=Drill.Mode.LIVE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    # The business service's RTO (outage start of the first system until the last one restored),
    # stored when the plan drill ends; see plans/measurement.py.
    service_rto = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Plan drill #{self.pk} · {self.plan_version}"

    def get_absolute_url(self) -> str:
        return reverse("plans:plan_drill_detail", args=[self.pk])

    @property
    def is_dry_run(self) -> bool:
        return self.mode == Drill.Mode.DRY_RUN

    @property
    def is_tabletop(self) -> bool:
        return self.mode == Drill.Mode.TABLETOP


class SystemRecovery(models.Model):
    """One system of a plan drill: the runbook version pinned when the plan drill started, the
    systems it waits for, and its drill once started. Its state is read from that drill, so a retry
    or skip on the drill's own page counts here too."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for its dependencies"
        BLOCKED = "blocked", "Blocked: a system it waits for did not recover"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval to start"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Recovered"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"

    plan_drill = models.ForeignKey(PlanDrill, on_delete=models.CASCADE, related_name="recoveries")
    position = models.PositiveIntegerField()
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="+")
    runbook_version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="+")
    after = models.JSONField(default=list, help_text="Slugs of the plan's systems this one waits for.")
    drill = models.OneToOneField(Drill, null=True, blank=True, on_delete=models.PROTECT, related_name="recovery")

    class Meta:
        ordering = ["plan_drill", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan_drill", "position"], name="unique_recovery_position"),
            models.UniqueConstraint(fields=["plan_drill", "system"], name="unique_recovery_system"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_drill_id}/{self.system.slug}"

    def drill_state(self) -> str | None:
        """The state its drill gives it, or None before it started."""
        if self.drill is None:
            return None
        return {
            Drill.Status.DRAFT: self.State.AWAITING_APPROVAL,
            Drill.Status.RUNNING: self.State.RUNNING,
            Drill.Status.WAITING: self.State.RUNNING,
            Drill.Status.SUCCEEDED: self.State.SUCCEEDED,
            Drill.Status.FAILED: self.State.FAILED,
            Drill.Status.ABORTED: self.State.ABORTED,
        }.get(self.drill.status, self.State.RUNNING)


class FailbackLink(models.Model):
    """A failback drill started from the failover drill it undoes: the two are shown together (the
    time on the secondary, what the failback carried back and verified). Kept here, above drills, so
    drills stays unaware of it; the drill page loads the pair from plans with htmx."""

    failover = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="failback_links")
    failback = models.OneToOneField(Drill, on_delete=models.PROTECT, related_name="failback_link")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"drill {self.failback_id} fails back drill {self.failover_id}"
