"""Pages of the DR programme: the overview (the home page), the business impact analysis, cadence,
the calendar and its feed, quarterly reports, and the communication plan with its delivery log.
Thin: reads through selectors, changes through services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Capability, requires
from audit.services import record
from compliance.retest import retests_due
from drills.models import Drill
from drills.selectors import dashboard_drills
from runbooks.models import TIER_LABELS, DrillKind, System

from . import archive, calendar_feed, documents, planning
from .achieved import with_last_achieved
from .bia import TIER_BANDS, band_text, business_impact_analysis
from .cadence import DueStatus, cadence_months, cadence_status, due_items
from .channels import display_address
from .forms import PlanForm, SubscriptionForm
from .graph import GraphUnavailable, dependency_svg
from .models import ArchivedReport, Cadence, Delivery, PlannedDrill, Subscription
from .notifications import delivery_log
from .quarters import BadQuarter, Quarter
from .report import quarterly_report, system_trend

OVERVIEW_ROWS = 25
CALENDAR_DAYS = 90


def sample_drill_count() -> int:
    return Drill.objects.filter(sample=True).count()


# --- the overview (home page) ---------------------------------------------------------------------

@require_GET
@requires(Capability.VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    due = due_items()
    overdue = [i for i in due if i.status == DueStatus.OVERDUE]
    return render(request, "programme/overview.html", {
        "due": due[:OVERVIEW_ROWS], "due_count": len(due), "overdue_count": len(overdue),
        "overdue_systems": len({i.system.pk for i in overdue}),
        "due_soon_count": len(due) - len(overdue),
        "upcoming": PlannedDrill.objects.filter(status=PlannedDrill.Status.PLANNED, scheduled_at__gte=timezone.now())
                    .select_related("system", "runbook_version__runbook")[:5],
        "sample_drills": sample_drill_count(),
        "quarter": Quarter.current(),
        **dashboard_drills(),
    })


# --- business impact analysis ---------------------------------------------------------------------

@require_GET
@requires(Capability.VIEW)
def bia(request: HttpRequest) -> HttpResponse:
    analysis = business_impact_analysis(with_last_achieved(System.objects.order_by("tier", "name")))
    try:
        graph, graph_problem = dependency_svg(analysis), ""
    except GraphUnavailable as problem:
        graph, graph_problem = "", str(problem)
    bands = [(tier, TIER_LABELS[tier], band_text(*rto), band_text(*rpo)) for tier, (rto, rpo) in TIER_BANDS.items()]
    return render(request, "programme/bia.html", {"bia": analysis, "graph": graph, "graph_problem": graph_problem,
                                                  "bands": bands, "sample_drills": sample_drill_count()})


# --- cadence ----------------------------------------------------------------------------------------

@require_GET
@requires(Capability.VIEW)
def cadence(request: HttpRequest) -> HttpResponse:
    months = cadence_months()
    rows = [(tier, TIER_LABELS[tier], [(kind, months[(tier, kind)]) for kind in DrillKind.values]) for tier in range(5)]
    return render(request, "programme/cadence.html", {"rows": rows, "kinds": DrillKind.choices,
                                                      "retests": retests_due()})


@require_POST
@requires(Capability.COORDINATE)
def cadence_update(request: HttpRequest) -> HttpResponse:
    changes, problems = {}, []
    for tier in range(5):
        for kind, label in DrillKind.choices:
            field = f"c-{tier}-{kind}"
            if field not in request.POST:
                continue
            text = request.POST[field].strip()
            if text == "":
                changes[(tier, kind)] = None
            elif text.isdigit() and 1 <= int(text) <= 60:
                changes[(tier, kind)] = int(text)
            else:
                problems.append(f"Tier {tier}, {label.lower()}: write a number of months from 1 to 60, or leave it "
                                f"empty when not required (got {text!r}).")
    if problems or not changes:
        messages.error(request, " ".join(problems) or "Nothing to change.")
        return redirect("programme:cadence")
    current = cadence_months()
    changed = {key: value for key, value in changes.items() if current[key] != value}
    with transaction.atomic():
        for (tier, kind), interval in changed.items():
            Cadence.objects.update_or_create(tier=tier, kind=kind, defaults={"interval_months": interval,
                                                                            "updated_by": request.user})
        if changed:
            record("cadence.changed", actor=request.user, summary=f"changed {len(changed)} cadence(s)",
                   before={f"{t}/{k}": current[(t, k)] for t, k in changed}, after={f"{t}/{k}": v for (t, k), v in changed.items()})
    messages.success(request, f"Cadence saved: {len(changed)} changed." if changed else "Nothing changed.")
    return redirect("programme:cadence")


# --- calendar and planned drills --------------------------------------------------------------------

@require_GET
@requires(Capability.VIEW)
def calendar(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    horizon = timezone.localdate() + timedelta(days=CALENDAR_DAYS)
    planned = PlannedDrill.objects.select_related("system", "runbook_version__runbook", "planned_by", "approved_by",
                                                  "drill")
    due = [i for i in cadence_status() if i.due_on <= horizon]
    return render(request, "programme/calendar.html", {
        "upcoming": planned.filter(scheduled_at__gte=now - timedelta(days=1)).order_by("scheduled_at")[:200],
        "past": planned.filter(scheduled_at__lt=now - timedelta(days=1)).order_by("-scheduled_at")[:50],
        "due": due, "horizon": horizon, "form": PlanForm(), "feed_token": request.session.pop("feed_token", None),
    })


def _feed_user(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The feed is read by calendar apps, which cannot sign in: ``?token=`` (a person's secret feed
    link) stands for that person; otherwise the signed-in session, as everywhere."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.GET.get("token", "")
        if token:
            user = calendar_feed.user_of_token(token)
            if user is None:
                raise PermissionDenied("This feed link is not valid (any more): make a new one on the calendar page.")
            request.user = user
        elif not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@login_not_required
@_feed_user
@requires(Capability.VIEW)
def calendar_ics(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timedelta(days=90)
    planned = list(PlannedDrill.objects.filter(scheduled_at__gte=since).exclude(sample=True)
                   .select_related("system", "runbook_version__runbook", "planned_by"))
    response = HttpResponse(calendar_feed.feed(planned, cadence_status()), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="drdrill-programme.ics"'
    return response


@require_POST
@requires(Capability.VIEW)
def calendar_feed_link(request: HttpRequest) -> HttpResponse:
    request.session["feed_token"] = calendar_feed.new_feed_token(request.user)
    return redirect("programme:calendar")


@require_POST
@requires(Capability.COORDINATE)
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The drill was not planned: " + "; ".join(
            f"{form.fields[f].label or f}: {' '.join(e)}" for f, e in form.errors.items()))
        return redirect("programme:calendar")
    data = form.cleaned_data
    try:
        planned = planning.plan_drill(runbook=data["runbook"], scheduled_at=data["scheduled_at"], user=request.user,
                                      mode=data["mode"], confirmation=data["confirmation"], note=data["note"])
    except planning.PlanRefused as refusal:
        messages.error(request, f"The drill was not planned. {refusal}")
    else:
        extra = " It needs an approver's approval before its time." if planned.needs_pre_approval else ""
        messages.success(request, f"Planned: {planned}.{extra}")
    return redirect("programme:calendar")


def _planned_action(request: HttpRequest, pk: int, action: Callable[..., None], done: str, **fields: str) -> HttpResponse:
    planned = get_object_or_404(PlannedDrill.objects.select_related("system"), pk=pk)
    try:
        action(planned=planned, user=request.user, **{k: request.POST.get(v, "").strip() for k, v in fields.items()})
    except planning.PlanRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, done)
    return redirect("programme:calendar")


@require_POST
@requires(Capability.APPROVE)
def plan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _planned_action(request, pk, planning.approve_planned_drill, "Approved in advance.", comment="comment")


@require_POST
@requires(Capability.COORDINATE)
def plan_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _planned_action(request, pk, planning.cancel_planned_drill, "Planned drill cancelled.", reason="reason")


# --- quarterly reports ----------------------------------------------------------------------------

def _quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except BadQuarter as problem:
        raise Http404(str(problem)) from None


@require_GET
@requires(Capability.VIEW)
def report_list(request: HttpRequest) -> HttpResponse:
    archived = {}
    for row in ArchivedReport.objects.defer("content").order_by("-quarter", "format"):
        archived.setdefault(row.quarter, []).append(row)
    quarters = sorted({*Quarter.current().last(8), *(Quarter.parse(q) for q in archived)}, reverse=True)
    return render(request, "programme/report_list.html",
                  {"quarters": [(q, archived.get(str(q), []), q.has_ended()) for q in quarters]})


@require_GET
@requires(Capability.VIEW)
def report_page(request: HttpRequest, quarter: str) -> HttpResponse:
    q = _quarter(quarter)
    report = quarterly_report(q)

    def chart_url(name: str) -> str:
        return reverse("programme:report_chart", args=[str(q), name])

    context = documents.report_context(report, chart_url)
    context.update({"archived": archive.archived(q), "on_page": True})
    return render(request, "programme/report.html", context)


DOWNLOADS = {"pdf": ("application/pdf", documents.render_pdf), "csv": ("text/csv; charset=utf-8", documents.render_csv),
             "html": ("text/html; charset=utf-8", documents.render_html)}


@require_GET
@requires(Capability.VIEW)
def report_download(request: HttpRequest, quarter: str, fmt: str) -> HttpResponse:
    if fmt not in DOWNLOADS:
        raise Http404("The report comes as pdf, csv or html.")
    q = _quarter(quarter)
    content_type, render_document = DOWNLOADS[fmt]
    response = HttpResponse(render_document(quarterly_report(q)), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="dr-report-{q}.{fmt}"'
    return response


@require_GET
@requires(Capability.VIEW)
def report_chart(request: HttpRequest, quarter: str, chart: str) -> HttpResponse:
    # Charts load matplotlib (~50 MiB a process): imported when a chart is drawn, not by every process
    # that resolves a URL (a worker writing a notification's link loads the URLconf and so this module).
    from .charts import overview_chart, trend_chart

    q = _quarter(quarter)
    if chart == "overview":
        svg = overview_chart(quarterly_report(q))
    else:
        system = get_object_or_404(System, slug=chart)
        svg = trend_chart(system, system_trend(system, q))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_POST
@requires(Capability.COORDINATE)
def report_archive(request: HttpRequest, quarter: str) -> HttpResponse:
    q = _quarter(quarter)
    try:
        stored = archive.archive_quarter(quarter=q, user=request.user)
    except archive.ArchiveRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{q} archived: PDF SHA-256 {stored['pdf'].sha256}.")
    return redirect("programme:report", quarter=str(q))


@require_GET
@requires(Capability.VIEW)
def report_archived(request: HttpRequest, quarter: str, fmt: str) -> HttpResponse:
    document = get_object_or_404(ArchivedReport, quarter=str(_quarter(quarter)), format=fmt)
    response = HttpResponse(bytes(document.content), content_type=ArchivedReport.CONTENT_TYPES[document.format])
    response["Content-Disposition"] = f'attachment; filename="dr-report-{document.quarter}-archived.{document.format}"'
    response["Digest"] = f"sha-256={document.sha256}"
    response["X-Content-SHA256"] = document.sha256
    return response


# --- the communication plan -----------------------------------------------------------------------

@require_GET
@requires(Capability.VIEW)
def notifications(request: HttpRequest) -> HttpResponse:
    subscriptions = list(Subscription.objects.select_related("system", "drill", "planned_drill"))
    for subscription in subscriptions:
        subscription.shown_address = display_address(subscription)
    recent = Delivery.objects.select_related("subscription", "drill", "system")[:50]
    return render(request, "programme/notifications.html",
                  {"subscriptions": subscriptions, "recent": recent, "form": SubscriptionForm()})


@require_POST
@requires(Capability.COORDINATE)
def subscription_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        subscription = form.save(commit=False)
        subscription.created_by = request.user
        subscription.save()
        messages.success(request, f"{subscription.name} added to the communication plan ({subscription.scope}).")
    else:
        messages.error(request, "Not added: " + "; ".join(
            f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("programme:notifications")


@require_POST
@requires(Capability.COORDINATE)
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    subscription.delete()
    messages.success(request, f"{subscription.name} removed from the communication plan.")
    return redirect("programme:notifications")


@require_GET
@requires(Capability.VIEW)
def drill_notifications(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("system", "runbook_version__runbook"), pk=pk)
    return render(request, "programme/drill_notifications.html", {"drill": drill, "deliveries": delivery_log(drill)})
