"""How the DR programme is governed: the cadence of each drill kind per tier, drills planned for a
date, who is told what (the communication plan) and what was delivered, and the archive of issued
quarterly reports."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from drills.models import Drill
from runbooks.models import TIER_LABELS, DrillKind, RunbookVersion, System

# The handbook's DR test schedule: tabletop quarterly, partial failover twice a year, full failover
# yearly, backup restore monthly. Every tier starts from it except tier 4 (backup only), which has no
# standby to fail over to. Months, because the handbook speaks in months and quarters.
HANDBOOK_CADENCE_MONTHS: dict[str, int] = {
    DrillKind.TABLETOP: 3,
    DrillKind.PARTIAL_FAILOVER: 6,
    DrillKind.FULL_FAILOVER: 12,
    DrillKind.BACKUP_RESTORE: 1,
}
NOT_REQUIRED_FOR_TIER: dict[int, set[str]] = {4: {DrillKind.PARTIAL_FAILOVER, DrillKind.FULL_FAILOVER}}


def default_cadence_months(tier: int, kind: str) -> int | None:
    return None if kind in NOT_REQUIRED_FOR_TIER.get(tier, set()) else HANDBOOK_CADENCE_MONTHS[kind]


class Cadence(models.Model):
    """How often systems of a tier must hold a drill of a kind. Empty: not required."""

    tier = models.PositiveSmallIntegerField(choices=sorted(TIER_LABELS.items()), validators=[MaxValueValidator(4)])
    kind = models.CharField(max_length=20, choices=DrillKind.choices)
    interval_months = models.PositiveSmallIntegerField(null=True, blank=True,
                                                       validators=[MinValueValidator(1), MaxValueValidator(60)],
                                                       help_text="Empty when this tier need not hold this kind of drill.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["tier", "kind"]
        constraints = [models.UniqueConstraint(fields=["tier", "kind"], name="unique_cadence_tier_kind")]

    def __str__(self) -> str:
        every = f"every {self.interval_months} months" if self.interval_months else "not required"
        return f"Tier {self.tier} {self.get_kind_display()}: {every}"


class PlannedDrill(models.Model):
    """A drill planned for a time. Beat starts it then (a tabletop: reminds its people instead).
    A live drill on production starts only with an approval recorded beforehand by an approver other
    than the person who planned it (docs/programme.md#planned-drills)."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        STARTING = "starting", "Starting"
        STARTED = "started", "Started"
        AWAITING_APPROVAL = "awaiting_approval", "Started, waiting for approval"
        REMINDED = "reminded", "Reminder sent"
        NOT_STARTED = "not_started", "Not started"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.PLANNED,)

    runbook_version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="+",
                                        help_text="Pinned when planned: what was approved is what runs.")
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="planned_drills")
    kind = models.CharField(max_length=20, choices=DrillKind.choices)
    mode = models.CharField(max_length=10, choices=Drill.Mode.choices, default=Drill.Mode.LIVE)
    scheduled_at = models.DateTimeField(db_index=True)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    planned_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    # The pre-approval of a live drill on production: the same four-eyes rule as a start approval.
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED, db_index=True)
    drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.TextField(blank=True, help_text="What happened at the planned time.")
    sample = models.BooleanField(default=False)

    class Meta:
        ordering = ["scheduled_at"]

    def __str__(self) -> str:
        return f"{self.runbook_version.runbook.title} at {self.scheduled_at:%Y-%m-%d %H:%M}"

    @property
    def is_tabletop(self) -> bool:
        return self.kind == DrillKind.TABLETOP

    @property
    def needs_pre_approval(self) -> bool:
        return not self.is_tabletop and self.mode == Drill.Mode.LIVE and self.system.is_production


class Subscription(models.Model):
    """One line of the communication plan: who is told of what, and how. Attached to a system, to
    every system (none), or to one drill or planned drill, which then replaces the system's plan."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        APPRISE = "apprise", "Apprise URL (Slack, Teams, webhook, …)"

    class Event(models.TextChoices):
        STARTED = "started", "Drill started"
        APPROVAL = "approval", "Approval awaited"
        AWAITED = "awaited", "A person is awaited"
        STEP_FAILED = "step_failed", "A step failed"
        STALLED = "stalled", "Drill stalled"
        UPDATE = "update", "Status update while running"
        ENDED = "ended", "Drill ended (with figures)"
        REPORT_DUE = "report_due", "Post-drill report due"
        OVERDUE = "overdue", "System overdue"
        PLANNED = "planned", "Planned drill reminders"

    name = models.CharField(max_length=200, help_text="Who this is, e.g. “Payments stakeholders”.")
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions")
    drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    planned_drill = models.ForeignKey(PlannedDrill, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="subscriptions")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # E-mail: addresses, comma-separated. Apprise: a URL; ${NAME} parts are read from the worker's
    # environment when a message is sent, so tokens stay out of the database.
    address = models.CharField(max_length=1000)
    events = models.JSONField(default=list)
    update_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)],
                                                 help_text="Status updates every this many minutes while a drill runs.")
    include_dry_runs = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["system__tier", "system__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"

    def wants(self, event: str) -> bool:
        return event in self.events

    @property
    def scope(self) -> str:
        if self.drill_id:
            return f"drill #{self.drill_id}"
        if self.planned_drill_id:
            return f"planned drill #{self.planned_drill_id}"
        return self.system.name if self.system_id else "every system"


class Delivery(models.Model):
    """One message to one subscription: the delivery log. ``key`` makes a message unique per
    subscription, so a signal or beat tick that fires twice sends once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=20, choices=Subscription.Event.choices)
    key = models.CharField(max_length=200)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "key"], name="unique_delivery_key")]
        indexes = [models.Index(fields=["drill", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_event_display()} to {self.subscription.name}: {self.get_status_display()}"


class ArchivedReport(models.Model):
    """An issued quarterly report, stored byte for byte with its SHA-256 digest: next year's auditor
    fetches the very document that was issued. Written once."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        HTML = "html", "HTML"
        CSV = "csv", "CSV"

    CONTENT_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}

    quarter = models.CharField(max_length=7, help_text="e.g. 2026-Q3")
    format = models.CharField(max_length=4, choices=Format.choices)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", help_text="Empty when beat archived it at the quarter's end.")

    class Meta:
        ordering = ["-quarter", "format"]
        constraints = [models.UniqueConstraint(fields=["quarter", "format"], name="unique_archived_report")]

    def __str__(self) -> str:
        return f"{self.quarter} report ({self.format}), sha256 {self.sha256[:12]}…"

    def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if self.pk is not None:
            raise ValidationError("an archived report is never changed")
        digest = hashlib.sha256(bytes(self.content)).hexdigest()
        if self.sha256 and self.sha256 != digest:
            raise ValidationError("the archived report's digest does not match its content")
        self.sha256, self.size = digest, len(self.content)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise ValidationError("an archived report is never deleted")


class CalendarFeedToken(models.Model):
    """A person's secret link to the iCalendar feed (calendar apps cannot sign in). Only its digest
    is stored; a new link replaces the old one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
