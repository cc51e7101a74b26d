"""The quarterly report as documents: the page's context, a self-contained HTML document (charts
inside it), a PDF drawn by WeasyPrint from that document, and a CSV. The page, the download, the
command line and the archive all come from here, so they say the same thing."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from .report import QuarterlyReport, TrendPoint

# Beyond this many systems with history the report draws the most critical ones; every system's
# figures are in the table and the CSV, and its own chart is one click away on the page.
MAX_TREND_CHARTS = 24
REPORT_CSS = Path(settings.BASE_DIR) / "static" / "css" / "report.css"


def report_context(report: QuarterlyReport, chart_src: Callable[[str], str]) -> dict[str, Any]:
    """``chart_src("overview")`` / ``chart_src(<system slug>)`` give each chart's image source: a URL
    on the page, the drawing itself (a data: URI) in a document."""
    trend_systems = report.trend_systems()
    return {
        "report": report,
        "overview_chart": chart_src("overview"),
        "trend_charts": [(s, chart_src(s.slug)) for s in trend_systems[:MAX_TREND_CHARTS]],
        "more_trend_systems": max(len(trend_systems) - MAX_TREND_CHARTS, 0),
    }


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _document_charts(report: QuarterlyReport) -> Callable[[str], str]:
    # matplotlib (tens of MiB) is loaded when a document is drawn, not in every worker that imports
    # the archive to check whether a quarter is due.
    from .charts import overview_chart, trend_chart

    systems = {r.system.slug: r.system for r in report.results}

    def draw(name: str) -> str:
        if name == "overview":
            return _data_uri(overview_chart(report))
        system = systems[name]
        return _data_uri(trend_chart(system, report.trend_of(system)))

    return draw


def render_html(report: QuarterlyReport) -> bytes:
    """The report as one self-contained HTML file: its stylesheet and charts are inside it."""
    context = report_context(report, _document_charts(report))
    context["stylesheet"] = REPORT_CSS.read_text()
    return render_to_string("programme/report_document.html", context).encode()


def render_pdf(report: QuarterlyReport, html: bytes | None = None) -> bytes:
    from weasyprint import HTML  # imported when used: it loads Pango

    return HTML(string=(html or render_html(report)).decode(), base_url=str(settings.BASE_DIR)).write_pdf()


def render_csv(report: QuarterlyReport) -> bytes:
    """Sections of one CSV, each a heading row then its own header: summary, systems, trend, cadence,
    overdue, action items. Durations in seconds; pass/fail as yes/no."""
    out = io.StringIO()
    w = csv.writer(out)

    def yes_no(value: bool | None) -> str:
        return "" if value is None else ("yes" if value else "no")

    w.writerow(["section", f"Quarterly DR report {report.quarter}"])
    w.writerow(["summary", "quarter", "as_of", "drills_held", "drills_expected", "systems", "systems_drilled",
                "systems_meeting_targets", "systems_missing_targets", "systems_overdue", "open_action_items",
                "sample_drills"])
    items = report.action_items
    w.writerow(["summary", str(report.quarter), report.as_of.isoformat(), report.held, report.expected,
                len(report.results), len(report.drilled), report.meeting_targets, report.missing_targets,
                report.overdue_systems, "not tracked" if items is None else items.open_at_end, report.sample_drills])
    w.writerow([])
    w.writerow(["system", "slug", "name", "tier", "owner", "rto_target_s", "rto_last_s", "rto_best_s", "rto_worst_s",
                "rto_pass", "rpo_target_s", "rpo_last_s", "rpo_best_s", "rpo_worst_s", "rpo_pass", "drills",
                "sample_drills", "verdict", "overdue_kinds"])
    for r in report.results:
        w.writerow(["system", r.system.slug, r.system.name, r.system.tier, r.system.owner,
                    _n(r.rto.target), _n(r.rto.last), _n(r.rto.best), _n(r.rto.worst), yes_no(r.rto.passed),
                    _n(r.rpo.target), _n(r.rpo.last), _n(r.rpo.best), _n(r.rpo.worst), yes_no(r.rpo.passed),
                    r.drills, r.sample_drills, r.verdict, " ".join(i.kind for i in r.overdue)])
    w.writerow([])
    w.writerow(["trend", "slug", "quarter", "rto_last_s", "rpo_last_s"])
    for r in report.results:
        point: TrendPoint
        for point in report.trend_of(r.system):
            if point.rto is not None or point.rpo is not None:
                w.writerow(["trend", r.system.slug, str(point.quarter), _n(point.rto), _n(point.rpo)])
    w.writerow([])
    w.writerow(["cadence", "kind", "drills_held", "drills_expected", "systems_overdue"])
    for k in report.kinds:
        w.writerow(["cadence", k.kind, k.held, f"{k.expected:.1f}", k.overdue_systems])
    w.writerow([])
    w.writerow(["overdue", "slug", "kind", "due_on", "days_overdue", "last_held"])
    for item in report.overdue:
        w.writerow(["overdue", item.system.slug, item.kind, item.due_on.isoformat(), item.days,
                    item.last_held.isoformat() if item.last_held else ""])
    w.writerow([])
    coverage = report.coverage
    w.writerow(["coverage", "control", "reference", "period_months", "system", "support", "drills"])
    for row in coverage.rows:
        for cell in row.cells:
            w.writerow(["coverage", row.control.id, row.control.reference, row.control.every_months, cell.system.slug,
                        cell.support, " ".join(str(d) for d in cell.drill_ids)])
    w.writerow(["coverage_passing", "critical_systems", "with_passing_drill_365d"])
    w.writerow(["coverage_passing", len(coverage.systems), coverage.passing_count])
    w.writerow([])
    if items is None:
        w.writerow(["action_items", "Action items are not tracked yet"])
    else:
        w.writerow(["action_items", "opened", "closed", "open_at_end"])
        w.writerow(["action_items", items.opened, items.closed, items.open_at_end])
    return out.getvalue().encode()


def _n(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
