"""What we plan: systems with tiers and RTO/RPO targets, runbooks and their immutable versions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

# Tier defaults from the DR practice we serve: the upper bound of each tier's band, in seconds.
# Tier 4 ("backup only", RTO > 72 h, RPO > 24 h) has no upper bound; a week is the default.
TIER_DEFAULTS: dict[int, tuple[int, int]] = {
    0: (3600, 300),
    1: (4 * 3600, 3600),
    2: (24 * 3600, 4 * 3600),
    3: (72 * 3600, 24 * 3600),
    4: (7 * 86400, 7 * 86400),
}
TIER_LABELS = {
    0: "Tier 0 · active-active",
    1: "Tier 1 · hot standby",
    2: "Tier 2 · warm standby",
    3: "Tier 3 · cold standby",
    4: "Tier 4 · backup only",
}


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"
    DEMO = "demo", "Demo"


class DrillKind(models.TextChoices):
    TABLETOP = "tabletop", "Tabletop exercise"
    PARTIAL_FAILOVER = "partial_failover", "Partial failover"
    FULL_FAILOVER = "full_failover", "Full failover"
    BACKUP_RESTORE = "backup_restore", "Backup restore"


class System(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Team or person accountable for recovery.")
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    tier = models.PositiveSmallIntegerField(validators=[MaxValueValidator(4)], choices=sorted(TIER_LABELS.items()))
    rto_target_seconds = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    rpo_target_seconds = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    dependencies = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    # Which real resources the system maps to, by name: {"db": {"kind": "sqlite", "path": ...}}.
    # Runbook steps name a target; secrets are never stored here, only references to them.
    targets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("runbooks:system_detail", args=[self.slug])

    @property
    def is_production(self) -> bool:
        return self.environment == Environment.PRODUCTION

    @property
    def tier_label(self) -> str:
        return TIER_LABELS.get(self.tier, f"Tier {self.tier}")

    def apply_tier_defaults(self) -> None:
        rto, rpo = TIER_DEFAULTS[self.tier]
        if not self.rto_target_seconds:
            self.rto_target_seconds = rto
        if not self.rpo_target_seconds:
            self.rpo_target_seconds = rpo


class Runbook(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="runbooks")
    kind = models.CharField(max_length=20, choices=DrillKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:runbook_detail", args=[self.slug])

    @property
    def latest_version(self) -> RunbookVersion | None:
        return self.versions.order_by("-number").first()


class ImmutableModel(models.Model):
    """A row written once: versions are pinned by drills, so what ran must stay what was planned."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError(f"{type(self).__name__} rows are immutable; import a new version instead.")
        super().save(*args, **kwargs)


class RunbookVersion(ImmutableModel):
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    # The normalised document (what the steps were built from) and its hash: importing an
    # unchanged runbook compares hashes and creates nothing.
    spec = models.JSONField()
    content_hash = models.CharField(max_length=64)
    source_name = models.CharField(max_length=500, blank=True, help_text="File the version came from.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [models.UniqueConstraint(fields=["runbook", "number"], name="unique_runbook_version_number")]

    def __str__(self) -> str:
        return f"{self.runbook.slug} v{self.number}"

    @property
    def canary(self) -> dict | None:
        return self.spec.get("canary")


class Step(ImmutableModel):
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.FloatField()
    retries = models.PositiveSmallIntegerField(default=0)
    marks = models.JSONField(default=list, blank=True)
    # Consecutive steps sharing a group run in parallel, like a recovery plan's priority group.
    group = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="unique_step_position"),
            models.UniqueConstraint(fields=["version", "key"], name="unique_step_key"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ScenarioFlag(models.TextChoices):
    """What kind of disruption a scenario plays: the frameworks ask the testing scenarios to include
    these (docs/compliance.md#in-the-post-drill-report)."""

    SEVERE_BUT_PLAUSIBLE = "severe_but_plausible", "severe but plausible"
    CYBER_ATTACK = "cyber_attack", "cyber-attack"
    THIRD_PARTY_FAILURE = "third_party_failure", "third-party failure"
    KEY_PERSON_ABSENT = "key_person_absent", "key person absent"


class Scenario(models.Model):
    """What a tabletop is played against ("primary region lost", "ransomware in the backups"): the
    identity of a scenario across its versions. Written in the same YAML as runbooks."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    # The system whose tabletops offer this scenario; empty: every system's.
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.PROTECT, related_name="scenarios")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def latest_version(self) -> ScenarioVersion | None:
        return self.versions.order_by("-number").first()


class ScenarioVersion(ImmutableModel):
    """One immutable version of a scenario: a tabletop pins it, so the injects it played stay what
    was planned. ``spec`` holds the normalised document, injects included."""

    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    spec = models.JSONField()
    content_hash = models.CharField(max_length=64)
    source_name = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["scenario", "-number"]
        constraints = [models.UniqueConstraint(fields=["scenario", "number"], name="unique_scenario_version_number")]

    def __str__(self) -> str:
        return f"{self.scenario.slug} v{self.number}"

    @property
    def flags(self) -> list[str]:
        """The scenario's flags in their users' words, in the order ScenarioFlag lists them. Kept in
        the version's document, so a tabletop shows the flags of the version it played."""
        marked = set(self.spec.get("flags", []))
        return [flag.label for flag in ScenarioFlag if flag.value in marked]

    @property
    def injects(self) -> list[dict]:
        """Each inject: key, title, message and ``at_seconds`` (None: released by the facilitator)."""
        return list(self.spec.get("injects", []))


class EnvironmentChange(models.Model):
    """Moving a system out of production drops its typed-name check and its second-person approval
    for live drills, so it is itself a four-eyes change: one administrator asks (by importing the
    system with another environment), another decides. The system stays in production until then."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Awaiting a second administrator"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="environment_changes")
    from_environment = models.CharField(max_length=20, choices=Environment.choices)
    to_environment = models.CharField(max_length=20, choices=Environment.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.system.slug}: {self.from_environment} → {self.to_environment} ({self.decision})"
