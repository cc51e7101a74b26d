"""The post-drill report: one document per drill, as a page and as a PDF (WeasyPrint). Test type,
scenario, participants, objectives with pass/fail, timeline, RTO/RPO against the targets with their
evidence and bounds (or, for a tabletop, its estimates, labelled as such), the controls its evidence
supports (compliance), a warning when the system's impact level calls for more than was ever tested,
the checklist, lessons and action items, approvals, and its review and sign-off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from accounts.roles import Role, roles_of
from compliance.catalogue import TestType, catalogue
from compliance.evidence import (
    ControlSupport,
    ImpactWarning,
    Objectives,
    Support,
    controls_supported,
    evidence_of,
    impact_warnings,
    objectives_of,
)
from drills.models import Approval, Drill, DrillEvent, EventKind, Measurement, StepRun
from drills.selectors import drill_for_page, step_runs_for_page
from drills.tabletop import Estimate, estimate_of
from runbooks.models import RunbookVersion

from .models import Lesson, ReportRevision
from .selectors import ChecklistRow, checklist_of, lessons_of

ROLE_WORDS = {Role.VIEWER: "viewer", Role.PARTICIPANT: "participant", Role.COORDINATOR: "coordinator",
              Role.APPROVER: "approver", Role.REVIEWER: "reviewer", Role.ADMIN: "administrator"}
# What a timeline entry says a person did, for the entries the participants list does not read elsewhere.
ACTS_BY_EVENT = {EventKind.DRILL_APPROVAL_REQUESTED: "requested the start", EventKind.DRILL_ABORTED: "aborted the drill",
                 EventKind.STEP_RETRY: "retried a step", EventKind.STEP_CANCELLED: "cancelled a step",
                 EventKind.TABLETOP_INJECT_RELEASED: "released injects", EventKind.TABLETOP_ENDED: "ended the tabletop"}


@dataclass
class Participant:
    """Someone who acted on the drill, with their roles in drdrill and what they did, from the
    drill's own records (who started it, decided its approvals, confirmed its steps, acted on its
    timeline, was present at the tabletop, wrote its lessons)."""

    name: str
    roles: list[str]
    acts: list[str]

    def __str__(self) -> str:
        roles = f" ({', '.join(self.roles)})" if self.roles else ""
        return f"{self.name}{roles}: {'; '.join(self.acts)}"


def participants_of(drill: Drill, runs: list[StepRun], events: list[DrillEvent], approvals: list[Approval],
                    lessons: list[Lesson]) -> list[Participant]:
    acts: dict[int, tuple[Any, list[str]]] = {}

    def did(user: Any, act: str) -> None:
        if user is not None:
            done = acts.setdefault(user.pk, (user, []))[1]
            if act not in done:
                done.append(act)

    did(drill.started_by, "started the drill")
    for approval in approvals:
        gate = f"step {approval.step_run.position}" if approval.step_run else "the start"
        did(approval.decided_by, f"{approval.get_decision_display().lower()} {gate}")
    by_person: dict[int, tuple[Any, dict[str, list[str]]]] = {}
    for run in runs:
        if run.acted_by is not None:
            verb = {StepRun.Status.SUCCEEDED: "confirmed", StepRun.Status.SKIPPED: "skipped"}.get(run.status, "acted on")
            by_person.setdefault(run.acted_by.pk, (run.acted_by, {}))[1].setdefault(verb, []).append(str(run.position))
    for user, verbs in by_person.values():
        for verb, positions in verbs.items():
            did(user, f"{verb} step{'s' if len(positions) > 1 else ''} {', '.join(positions)}")
    for event in events:
        if event.actor is not None and event.kind in ACTS_BY_EVENT:
            did(event.actor, ACTS_BY_EVENT[EventKind(event.kind)])
    for presence in drill.presences.select_related("user"):
        did(presence.user, "was present")
    for lesson in lessons:
        did(lesson.created_by, "wrote lessons")
    did(drill.independent_recorded_by, "recorded the independent tester")
    return sorted((Participant(str(user), [ROLE_WORDS[r] for r in Role if r in roles_of(user)], done)
                   for user, done in acts.values()), key=lambda p: p.name)


@dataclass
class Report:
    drill: Drill
    step_runs: list[StepRun]
    figures: list[Measurement]       # achieved figures: a live drill's measurements, never a tabletop's
    estimate: Estimate | None        # a tabletop's estimates
    checklist: list[ChecklistRow]
    lessons: list[Lesson]
    approvals: list[Approval]
    events: list[DrillEvent]
    participants: list[Participant]
    test_type: TestType
    objectives: Objectives
    controls: list[ControlSupport]
    frameworks: dict[str, str]
    impact_warning: ImpactWarning | None
    revisions: list[ReportRevision]
    impact_level: str                # the system's impact level by tier (the catalogue's impact_levels)
    critical: bool                   # supports a critical or important function (DRDRILL_CRITICAL_TIERS)
    later_versions: list[RunbookVersion]  # the runbook changes that followed the drill

    def as_context(self) -> dict[str, Any]:
        return {"report": self, "drill": self.drill}

    @property
    def supported(self) -> list[ControlSupport]:
        return [c for c in self.controls if c.support == Support.YES]

    @property
    def partially_supported(self) -> list[ControlSupport]:
        return [c for c in self.controls if c.support == Support.PARTIAL]

    @property
    def not_supported(self) -> list[ControlSupport]:
        return [c for c in self.controls if c.support == Support.NO]

    @property
    def signed_off(self) -> ReportRevision | None:
        return next((r for r in reversed(self.revisions) if r.is_signed_off), None)

    @property
    def latest_revision(self) -> ReportRevision | None:
        return self.revisions[-1] if self.revisions else None


def drill_report(drill_id: int) -> Report:
    drill = drill_for_page(drill_id)
    runs = list(step_runs_for_page(drill))
    events = list(drill.events.select_related("actor").order_by("at", "id"))
    approvals = list(drill.approvals.select_related("decided_by", "step_run").order_by("decided_at"))
    lessons = lessons_of(drill)
    figures = [] if drill.is_tabletop else [m for m in (drill.rto, drill.rpo) if m is not None]
    cat = catalogue()
    evidence = evidence_of([drill], extra={drill.pk: {"lessons"}} if lessons else None)[drill.pk]
    warnings = impact_warnings([drill.system], cat)
    level = cat.impact_level_of(drill.system.tier)
    later = list(RunbookVersion.objects.filter(runbook_id=drill.runbook_version.runbook_id,
                                               number__gt=drill.runbook_version.number)
                 .select_related("created_by").order_by("number"))
    return Report(drill=drill, step_runs=runs, figures=figures,
                  estimate=estimate_of(runs) if drill.is_tabletop else None, checklist=checklist_of(drill, runs),
                  lessons=lessons, approvals=approvals, events=events, participants=participants_of(drill, runs, events, approvals, lessons),
                  test_type=evidence.test_type, objectives=objectives_of(drill, evidence),
                  controls=controls_supported(evidence, cat), frameworks=cat.frameworks,
                  impact_warning=warnings[0] if warnings else None,
                  revisions=list(ReportRevision.objects.filter(drill=drill).select_related("signed_off_by")
                                 .order_by("number")),
                  impact_level=level.name if level else "", critical=drill.system.tier in settings.DRDRILL_CRITICAL_TIERS,
                  later_versions=later)


def report_document(report: Report, *, for_revision: bool = False) -> str:
    """The report as one self-contained HTML document (its styles inline): what the PDF is made of,
    and what ``manage.py review report --format html`` writes. ``for_revision``: without the sign-off
    section, as a revision stores and digests it (reviews/signoff.py)."""
    return render_to_string("reviews/report_document.html", {**report.as_context(), "for_revision": for_revision})


def _refuse_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # Everything the report shows is in the document; text a participant typed can never make the
    # renderer fetch anything (a file, an internal URL).
    raise ValueError(f"the report fetches nothing ({url})")


def report_pdf(report: Report) -> bytes:
    from weasyprint import HTML  # loaded when a PDF is asked for: it pulls in Pango

    return HTML(string=report_document(report), url_fetcher=_refuse_fetching).write_pdf()
