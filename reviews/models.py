"""What a drill teaches: the DR test checklist (an editable template, copied onto every drill), the
lessons learned and the action items that fix what the drill found."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.urls import reverse

from drills.models import Drill, StepRun
from runbooks.models import Runbook, System


class Evidence(models.TextChoices):
    """What proves a checklist item without a person: read from the drill's own records."""

    NONE = "", "A person ticks it"
    BASELINE = "baseline", "Baseline taken"
    INTEGRITY = "integrity", "Integrity verified"
    RTO = "rto", "RTO measured"
    RPO = "rpo", "RPO measured"
    FAILBACK = "failback", "Failback done"


# Only a measurement ticks these: a person ticking "RTO measured" is the claim the checklist exists to check.
MEASURED_ONLY = (Evidence.RTO, Evidence.RPO)


class ChecklistTemplateItem(models.Model):
    """The DR test checklist every drill starts from. Coordinators edit it; it starts as the
    handbook's ten items (reviews.checklist.HANDBOOK_CHECKLIST)."""

    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    evidence = models.CharField(max_length=20, choices=Evidence.choices, blank=True)
    active = models.BooleanField(default=True, help_text="Inactive items are not copied onto new drills.")

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    """One drill's copy of a template item (copied when the drill starts, so editing the template
    never rewrites what an old drill was checked against) and what a person said about it."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="checklist_items")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    evidence = models.CharField(max_length=20, choices=Evidence.choices, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    note = models.TextField(blank=True, help_text="A person's note, or why the item does not apply.")
    ticked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    ticked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["drill", "position"]
        constraints = [models.UniqueConstraint(fields=["drill", "position"], name="unique_checklist_position")]

    def __str__(self) -> str:
        return f"{self.drill_id}/{self.position} {self.title}"


class Lesson(models.Model):
    """What happened and why, captured during or after a drill (a blocked tabletop item proposes one)."""

    drill = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="lessons")
    step_run = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=200)
    what_happened = models.TextField()
    why = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["drill", "created_at", "pk"]

    def __str__(self) -> str:
        return self.title


class ActionItem(models.Model):
    """Who fixes what a lesson found, by when. It fixes a runbook (optionally one step of it) or a
    system; "update the runbook" opens the runbook editor."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        # A deficiency's owner says it is fixed: it stays open until a later drill's evidence
        # verifies the fix and a second person confirms (reviews.services.confirm_deficiency_fixed).
        AWAITING_VERIFICATION = "awaiting_verification", "Fixed, awaiting verification by a re-test"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    class Severity(models.TextChoices):
        NONE = "", "Not a deficiency"
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Figure(models.TextChoices):
        NONE = "", "—"
        RTO = "rto", "RTO"
        RPO = "rpo", "RPO"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.AWAITING_VERIFICATION)

    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.CharField(max_length=200, help_text="The person or team who does it.")
    due_date = models.DateField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN, db_index=True)
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="+")
    runbook = models.ForeignKey(Runbook, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    step_key = models.SlugField(max_length=100, blank=True, help_text="The runbook step it fixes, by key.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # A deficiency (a severity set) closes only by evidence: the re-test that verifies the fix (the
    # same step now succeeding, or the same figure now within its target) and a second person.
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True,
                                help_text="Set when the item remedies a deficiency the drill found.")
    figure = models.CharField(max_length=3, choices=Figure.choices, blank=True,
                              help_text="The figure that failed, which a later drill must meet.")
    marked_fixed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    verified_by_drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # A deficiency at or above DRDRILL_MANAGEMENT_SEVERITY is reported to management (RTS 2024/1774
    # Art. 25: deficiencies reported to the management body), who acknowledge it.
    management_acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                                   on_delete=models.SET_NULL, related_name="+")
    management_acknowledged_at = models.DateTimeField(null=True, blank=True)
    management_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["system", "status", "due_date"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reviews:action_item_list") + f"#action-{self.pk}"

    @property
    def is_deficiency(self) -> bool:
        return bool(self.severity)

    SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}

    @property
    def reported_to_management(self) -> bool:
        threshold = self.SEVERITY_RANK.get(settings.DRDRILL_MANAGEMENT_SEVERITY, 3)
        return self.SEVERITY_RANK.get(self.severity, 0) >= threshold

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_date < today

    @property
    def verification_needed(self) -> str:
        """What a later drill must show to verify the fix, in words."""
        if self.step_key:
            return f"a live drill in which step {self.step_key} succeeds"
        if self.figure:
            return f"a live drill whose {self.get_figure_display()} is within its target"
        return "a live recovery drill that succeeds within its targets"

    @property
    def fixes(self) -> str:
        if self.runbook_id and self.step_key:
            return f"step {self.step_key} of runbook {self.runbook.slug}"
        if self.runbook_id:
            return f"runbook {self.runbook.slug}"
        return f"system {self.system.slug}"


class ReportRevision(models.Model):
    """One revision of a drill's post-drill report: the document as it stood, byte for byte, with its
    SHA-256 digest. The first is written when a reviewer signs the report off; once signed off, every
    later change to what the report says writes a new revision (audited), which awaits its own
    sign-off. Written once."""

    drill = models.ForeignKey(Drill, on_delete=models.PROTECT, related_name="report_revisions")
    number = models.PositiveIntegerField()
    content = models.TextField(help_text="The report document (HTML) without its sign-off section.")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)
    sign_off_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["drill", "number"]
        constraints = [models.UniqueConstraint(fields=["drill", "number"], name="unique_report_revision")]

    def __str__(self) -> str:
        return f"Report of drill #{self.drill_id}, revision {self.number} (sha256 {self.sha256[:12]}…)"

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None
