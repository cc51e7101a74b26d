"""The post-drill report: one document per drill, as a page and as a PDF (WeasyPrint). Scenario,
participants, timeline, RTO/RPO against the targets with their evidence and bounds (or, for a
tabletop, its estimates, labelled as such), the checklist, lessons and action items, approvals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from drills.models import Approval, Drill, DrillEvent, Measurement, StepRun
from drills.selectors import drill_for_page, step_runs_for_page
from drills.tabletop import Estimate, estimate_of

from .models import Lesson
from .selectors import ChecklistRow, checklist_of, lessons_of


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
    participants: list[str]

    def as_context(self) -> dict[str, Any]:
        return {"report": self, "drill": self.drill}


def drill_report(drill_id: int) -> Report:
    drill = drill_for_page(drill_id)
    runs = list(step_runs_for_page(drill))
    events = list(drill.events.select_related("actor").order_by("at", "id"))
    approvals = list(drill.approvals.select_related("decided_by", "step_run").order_by("decided_at"))
    lessons = lessons_of(drill)
    people = {str(drill.started_by)} if drill.started_by else set()
    people |= {str(r.acted_by) for r in runs if r.acted_by}
    people |= {str(e.actor) for e in events if e.actor}
    people |= {str(a.decided_by) for a in approvals}
    people |= {str(p.user) for p in drill.presences.select_related("user")}
    people |= {str(lesson.created_by) for lesson in lessons if lesson.created_by}
    figures = [] if drill.is_tabletop else [m for m in (drill.rto, drill.rpo) if m is not None]
    return Report(drill=drill, step_runs=runs, figures=figures,
                  estimate=estimate_of(runs) if drill.is_tabletop else None, checklist=checklist_of(drill, runs),
                  lessons=lessons, approvals=approvals, events=events, participants=sorted(people))


def report_document(report: Report) -> str:
    """The report as one self-contained HTML document (its styles inline): what the PDF is made of,
    and what ``manage.py review report --format html`` writes."""
    return render_to_string("reviews/report_document.html", report.as_context())


def _refuse_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # Everything the report shows is in the document; text a participant typed can never make the
    # renderer fetch anything (a file, an internal URL).
    raise ValueError(f"the report fetches nothing ({url})")


def report_pdf(report: Report) -> bytes:
    from weasyprint import HTML  # loaded when a PDF is asked for: it pulls in Pango

    return HTML(string=report_document(report), url_fetcher=_refuse_fetching).write_pdf()
