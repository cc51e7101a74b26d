"""Pages of recovery plans: the list with the import form, a plan with its order and its drills, and
a plan drill's progress. Views stay thin: state changes go through plans.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Capability, requires
from drills.models import Drill
from drills.services import DrillActionRefused
from runbooks.forms import RunbookImportForm
from runbooks.models import Runbook

from . import failback, services
from .models import Plan, PlanDrill, SystemRecovery
from .selectors import estimated_service_recovery, plan_drill_rows
from .yaml_format import PlanFormatError, stages_of


@require_GET
@requires(Capability.VIEW)
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "plans/plan_list.html", {"plans": _plans(), "form": RunbookImportForm()})


def _plans() -> list[Plan]:
    return list(Plan.objects.prefetch_related("versions").order_by("title")[:500])


@require_http_methods(["GET", "POST"])
@requires(Capability.COORDINATE)
def plan_import(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return redirect(f"{reverse('plans:plan_list')}#import")
    form = RunbookImportForm(request.POST, request.FILES)
    problems: list[str] = []
    if form.is_valid():
        sources = form.sources()
        if not form.errors:
            try:
                report = services.import_plans(sources=sources, user=request.user)
            except PlanFormatError as error:
                problems = [str(p) for p in error.problems]
            else:
                messages.success(request, f"Imported. {report.summary().capitalize()}.")
                return redirect("plans:plan_list")
    return render(request, "plans/plan_list.html", {"plans": _plans(), "form": form, "problems": problems}, status=400)


@require_GET
@requires(Capability.VIEW)
def plan_detail(request: HttpRequest, slug: str) -> HttpResponse:
    plan = get_object_or_404(Plan, slug=slug)
    versions = list(plan.versions.select_related("created_by").order_by("-number"))
    version = versions[0] if versions else None
    return render(request, "plans/plan_detail.html", {
        "plan": plan, "version": version, "versions": versions,
        "waves": stages_of(version.systems) if version else [],
        "production": services.production_systems(version) if version else [],
        "plan_drills": list(PlanDrill.objects.filter(plan_version__plan=plan).select_related("plan_version", "started_by")
                            .order_by("-started_at")[:50]),
    })


@require_GET
@requires(Capability.VIEW)
def plan_export(request: HttpRequest, slug: str) -> HttpResponse:
    get_object_or_404(Plan, slug=slug)
    response = HttpResponse(services.export_plans(plan_slugs=[slug]), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}.yaml"'
    return response


@require_POST
@requires(Capability.COORDINATE)
def plan_drill_start(request: HttpRequest, slug: str) -> HttpResponse:
    plan = get_object_or_404(Plan, slug=slug)
    version = plan.latest_version
    if version is None:
        messages.error(request, "This plan has no version to start.")
        return redirect(plan)
    try:
        plan_drill = services.plan_drill_start(plan_version=version, user=request.user,
                                               mode=request.POST.get("mode", "live"),
                                               confirmation=request.POST.get("confirmation"))
    except (services.PlanActionRefused, PermissionDenied) as refusal:
        messages.error(request, str(refusal))
        return redirect(plan)
    return redirect(plan_drill)


@require_GET
@requires(Capability.VIEW)
def plan_drill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan_drill = get_object_or_404(PlanDrill.objects.select_related("plan_version__plan", "started_by"), pk=pk)
    rows = plan_drill_rows(plan_drill)
    context = {"plan_drill": plan_drill, "plan": plan_drill.plan_version.plan, "rows": rows,
               "service": plan_drill.service_rto,
               "estimated_service_minutes": estimated_service_recovery(rows) if plan_drill.is_tabletop else None}
    if request.htmx:
        return render(request, "plans/partials/plan_drill_progress.html", context)
    return render(request, "plans/plan_drill_detail.html", context)


@require_POST
@requires(Capability.COORDINATE)
def plan_drill_abort(request: HttpRequest, pk: int) -> HttpResponse:
    plan_drill = get_object_or_404(PlanDrill, pk=pk)
    try:
        services.abort_plan_drill(plan_drill=plan_drill, user=request.user, reason=request.POST.get("reason", ""))
    except services.PlanActionRefused as refusal:
        messages.error(request, str(refusal))
    return redirect(plan_drill)


@require_GET
@requires(Capability.VIEW)
def drill_panel(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("system"), pk=pk)
    offer = failback.can_fail_back(drill)
    return render(request, "plans/partials/drill_panel.html", {
        "drill": drill,
        "recovery": SystemRecovery.objects.filter(drill=drill).select_related("plan_drill__plan_version__plan").first(),
        "pairs": failback.pairs_of(drill),
        "failback_runbooks": failback.failback_runbooks(drill.system) if offer else [],
    })


@require_POST
@requires(Capability.COORDINATE)
def failback_start(request: HttpRequest, pk: int) -> HttpResponse:
    failover = get_object_or_404(Drill, pk=pk)
    runbook = Runbook.objects.filter(slug=request.POST.get("runbook", "")).first()
    if runbook is None:
        messages.error(request, "Choose the failback runbook to run.")
        return redirect(failover)
    try:
        drill = failback.start_failback(failover=failover, runbook=runbook, user=request.user,
                                        mode=request.POST.get("mode", Drill.Mode.LIVE),
                                        confirmation=request.POST.get("confirmation"))
    except (DrillActionRefused, PermissionDenied) as refusal:
        messages.error(request, str(refusal))
        return redirect(failover)
    return redirect(drill)
