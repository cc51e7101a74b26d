"""Pages of what we run: drills, the live drill page and the actions people take
on a running drill. Thin: every change goes through drills.services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Capability, requires
from runbooks.models import Runbook, RunbookVersion, ScenarioVersion
from runbooks.plans import version_plan

from . import selectors, services, tabletop
from .evidence_pack import drill_evidence_pack
from .filters import DrillFilter
from .models import Drill, StepRun
from .progress import drill_progress
from .tabletop_page import tabletop_page

PAGE_SIZE = 50
HISTORY_ROWS = 20


@require_GET
@requires(Capability.VIEW)
def drill_list(request: HttpRequest) -> HttpResponse:
    filters = DrillFilter(request.GET, queryset=selectors.recent_drills_queryset())
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "drills/drill_list.html", {"drills": page.object_list, "page": page, "filters": filters})


@require_GET
@requires(Capability.VIEW)
def drill_history_partial(request: HttpRequest) -> HttpResponse:
    """The newest drills of a system or a runbook, for the pages of what we plan (which load it with
    htmx, so the planning app never reads drills itself)."""
    filters = DrillFilter(request.GET, queryset=selectors.recent_drills_queryset())
    return render(request, "drills/partials/drill_history.html",
                  {"drills": filters.qs[:HISTORY_ROWS], "query": request.GET.urlencode()})


@require_GET
@requires(Capability.VIEW)
def running_now_partial(request: HttpRequest) -> HttpResponse:
    """The dashboard's "Running now", polled by the dashboard so it keeps itself current."""
    return render(request, "drills/partials/running_now.html",
                  {"active_drills": selectors.active_drills()[:selectors.DASHBOARD_ROWS]})


@require_POST
@requires(Capability.COORDINATE)
def drill_start(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = get_object_or_404(Runbook, slug=slug)
    number = request.POST.get("version", "")
    version = runbook.versions.filter(number=int(number)).first() if number.isdigit() else runbook.latest_version
    if version is None:
        messages.error(request, "This runbook has no such version; import one first.")
        return redirect(runbook)
    latest = runbook.latest_version
    if version != latest and request.POST.get("old_version") != str(version.number):
        # Drilling an old version is sometimes right (re-running what failed), never an accident.
        messages.error(request, f"Nothing was started: v{version.number} is not the latest version (v{latest.number}). "
                                f"Tick “run v{version.number}, not the latest” to start it anyway.")
        return redirect(f"{runbook.get_absolute_url()}?version={version.number}")
    mode = request.POST.get("mode", Drill.Mode.LIVE)
    if mode == Drill.Mode.LIVE and request.POST.get("confirmed") != "1":
        # A live drill changes the world: the person first reads what each step will do, then confirms.
        return _live_confirmation(request, version)
    try:
        if mode == Drill.Mode.TABLETOP:
            drill = tabletop.start_tabletop(runbook_version=version, user=request.user,
                                            scenario_version=_scenario_version(request.POST.get("scenario", "")))
        else:
            drill = services.drill_start(runbook_version=version, user=request.user, mode=mode,
                                         confirmation=request.POST.get("confirmation"))
    except services.DrillActionRefused as refusal:
        messages.error(request, f"The drill was not started. {refusal}")
        if mode == Drill.Mode.LIVE:  # e.g. a mistyped production name: the plan stays in front of them
            return _live_confirmation(request, version, status=400)
        return redirect(runbook)
    return redirect(drill)


def _live_confirmation(request: HttpRequest, version: RunbookVersion, *, status: int = 200) -> HttpResponse:
    runbook = version.runbook
    return render(request, "drills/drill_confirm.html", {
        "runbook": runbook, "version": version, "is_latest": version == runbook.latest_version,
        "plan": version_plan(version, runbook.system.targets)}, status=status)


def _scenario_version(pk: str) -> ScenarioVersion | None:
    return get_object_or_404(ScenarioVersion, pk=int(pk)) if pk.isdigit() else None


@require_GET
@requires(Capability.VIEW)
def drill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill, pk=pk)
    if drill.is_tabletop:
        return _tabletop(request, drill, facilitator=False)
    return render(request, "drills/drill_detail.html", {**drill_progress(pk, request.user).as_context(),
                                                        "changes_since": selectors.runbook_changes_since(drill)})


@require_GET
@requires(Capability.VIEW)
def drill_progress_partial(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Drill, pk=pk)
    progress = drill_progress(pk, request.user)
    if request.GET.get("seen") == progress.fingerprint:
        # Nothing changed since the page's last swap: htmx swaps nothing on 204, so a note being
        # typed into a confirmation form is not wiped every second.
        return HttpResponse(status=204)
    return render(request, "drills/partials/progress.html", progress.as_context())


def _after_action(request: HttpRequest, drill_id: int) -> HttpResponse:
    if Drill.objects.filter(pk=drill_id, mode=Drill.Mode.TABLETOP).exists():  # aborting a tabletop
        return _after_tabletop_action(request, drill_id)
    if request.htmx:
        return render(request, "drills/partials/progress.html", drill_progress(drill_id, request.user).as_context())
    return redirect("drills:drill_detail", pk=drill_id)


@require_POST
@requires(Capability.COORDINATE)
def drill_abort(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill, pk=pk)
    try:
        services.abort_drill(drill=drill, user=request.user, reason=request.POST.get("reason", ""))
    except services.DrillActionRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.warning(request, "Drill aborted.")
    return _after_action(request, pk)


def _step_run(pk: int, position: int) -> StepRun:
    return get_object_or_404(StepRun.objects.select_related("step", "drill"), drill_id=pk, position=position)


@require_POST
@requires(Capability.PARTICIPATE)
def step_confirm(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    step_run = _step_run(pk, position)
    try:
        services.confirm_step(step_run=step_run, user=request.user, note=request.POST.get("note", "").strip())
    except services.DrillActionRefused as refusal:
        messages.error(request, str(refusal))
    return _after_action(request, pk)


@require_POST
@requires(Capability.COORDINATE)
def step_retry(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    try:
        services.retry_step(step_run=_step_run(pk, position), user=request.user)
    except services.DrillActionRefused as refusal:
        messages.error(request, str(refusal))
    return _after_action(request, pk)


@require_POST
@requires(Capability.COORDINATE)
def step_skip(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    try:
        services.skip_step(step_run=_step_run(pk, position), user=request.user,
                           reason=request.POST.get("reason", "").strip())
    except services.DrillActionRefused as refusal:
        messages.error(request, str(refusal))
    return _after_action(request, pk)


def _decide(request: HttpRequest, pk: int, decide: Callable[..., None], **target: Any) -> HttpResponse:
    try:
        decide(user=request.user, comment=request.POST.get("comment", "").strip(), **target)
    except services.DrillActionRefused as refusal:
        messages.error(request, str(refusal))
    return _after_action(request, pk)


@require_POST
@requires(Capability.APPROVE)
def drill_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.approve_start, drill=get_object_or_404(Drill, pk=pk))


@require_POST
@requires(Capability.APPROVE)
def drill_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, services.reject_start, drill=get_object_or_404(Drill, pk=pk))


@require_POST
@requires(Capability.APPROVE)
def step_approve(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    return _decide(request, pk, services.approve_step, step_run=_step_run(pk, position))


@require_POST
@requires(Capability.APPROVE)
def step_reject(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    return _decide(request, pk, services.reject_step, step_run=_step_run(pk, position))


@require_GET
@requires(Capability.VIEW)
def drill_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill.objects.select_related("runbook_version__runbook", "system", "started_by"), pk=pk)
    response = JsonResponse(drill_evidence_pack(drill), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="drill-{drill.pk}-evidence.json"'
    return response


# --- tabletops ---------------------------------------------------------------------------------------

def _tabletop(request: HttpRequest, drill: Drill, *, facilitator: bool) -> HttpResponse:
    tabletop.touch_presence(drill=drill, user=request.user)
    tabletop.release_due_injects(drill)
    return render(request, "drills/tabletop_detail.html", {
        **tabletop_page(drill.pk, request.user, facilitator=facilitator).as_context(),
        "changes_since": selectors.runbook_changes_since(drill)})


def _tabletop_drill(pk: int) -> Drill:
    return get_object_or_404(Drill.objects.select_related("scenario_version"), pk=pk, mode=Drill.Mode.TABLETOP)


@require_GET
@requires(Capability.COORDINATE)
def tabletop_facilitate(request: HttpRequest, pk: int) -> HttpResponse:
    return _tabletop(request, _tabletop_drill(pk), facilitator=True)


@require_GET
@requires(Capability.VIEW)
def tabletop_partial(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled every second by everyone on the page: it marks the viewer present, releases the
    injects whose time has come, and answers 204 when nothing changed."""
    drill = _tabletop_drill(pk)
    tabletop.touch_presence(drill=drill, user=request.user)
    tabletop.release_due_injects(drill)
    page = tabletop_page(pk, request.user, facilitator=request.GET.get("facilitator") == "1")
    if request.GET.get("seen") == page.fingerprint:
        return HttpResponse(status=204)
    return render(request, "drills/partials/tabletop.html", page.as_context())


def _after_tabletop_action(request: HttpRequest, pk: int) -> HttpResponse:
    facilitator = request.POST.get("facilitator") == "1"
    if request.htmx:
        return render(request, "drills/partials/tabletop.html",
                      tabletop_page(pk, request.user, facilitator=facilitator).as_context())
    return redirect("drills:tabletop_facilitate" if facilitator else "drills:drill_detail", pk=pk)


@require_POST
@requires(Capability.PARTICIPATE)
def tabletop_mark(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    step_run = get_object_or_404(StepRun.objects.select_related("step", "drill"), drill_id=pk, position=position,
                                 drill__mode=Drill.Mode.TABLETOP)
    minutes = request.POST.get("estimated_minutes", "").strip()
    try:
        if minutes and not minutes.isdigit():
            raise tabletop.TabletopRefused("The estimate is a whole number of minutes.")
        tabletop.mark_item(step_run=step_run, user=request.user, outcome=request.POST.get("outcome", ""),
                           note=request.POST.get("note", ""), estimated_minutes=int(minutes) if minutes else None)
    except tabletop.TabletopRefused as refusal:
        messages.error(request, str(refusal))
    return _after_tabletop_action(request, pk)


@require_POST
@requires(Capability.COORDINATE)
def tabletop_release(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        tabletop.release_inject(drill=_tabletop_drill(pk), user=request.user, key=request.POST.get("inject", ""))
    except tabletop.TabletopRefused as refusal:
        messages.error(request, str(refusal))
    return _after_tabletop_action(request, pk)


@require_POST
@requires(Capability.COORDINATE)
def tabletop_end(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        tabletop.end_tabletop(drill=_tabletop_drill(pk), user=request.user)
    except tabletop.TabletopRefused as refusal:
        messages.error(request, str(refusal))
    return _after_tabletop_action(request, pk)
