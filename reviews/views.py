"""Pages of what a drill teaches: its review panel (checklist, lessons, action items) that the drill
page loads with htmx, the lesson and action-item forms, the action items across systems, the
checklist template, the post-drill report and the evidence pack. Thin: changes go through
reviews.services."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Capability, requires
from drills.models import Drill, StepRun
from drills.selectors import step_runs_for_page
from runbooks.models import System

from . import checklist, selectors, services, signoff
from .evidence_zip import evidence_zip
from .forms import ActionItemForm, IndependentTesterForm, LessonForm, SignOffForm
from .models import ActionItem, ChecklistItem, ChecklistTemplateItem, Evidence, Lesson, ReportRevision
from .report import drill_report, report_pdf

INCLUDE_ROWS = 20


def _drill(pk: int) -> Drill:
    return get_object_or_404(Drill.objects.select_related("system", "runbook_version__runbook")
                             .prefetch_related("measurements"), pk=pk)


def _review_context(request: HttpRequest, drill: Drill) -> dict:
    runs = list(step_runs_for_page(drill))
    rows = selectors.checklist_of(drill, runs)
    lessons = selectors.lessons_of(drill)
    proposed = selectors.proposed_lessons(runs, lessons)
    return {"drill": drill, "checklist": rows, "lessons": lessons, "proposed": proposed, "today": selectors.today(),
            "fingerprint": selectors.review_fingerprint(rows, lessons, proposed), "Evidence": Evidence}


@require_GET
@requires(Capability.VIEW)
def drill_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The drill's checklist, lessons and action items, polled every two seconds while it is open
    (204 when nothing changed), so what one person records shows up for the others."""
    context = _review_context(request, _drill(pk))
    if request.GET.get("seen") == context["fingerprint"]:
        return HttpResponse(status=204)
    return render(request, "reviews/partials/drill_review.html", context)


def _after_review_action(request: HttpRequest, drill: Drill) -> HttpResponse:
    if request.htmx:
        return render(request, "reviews/partials/drill_review.html", _review_context(request, drill))
    return redirect(drill)


@require_POST
@requires(Capability.PARTICIPATE)
def checklist_tick(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    drill = _drill(pk)
    checklist.ensure_checklist(drill.pk)
    item = get_object_or_404(ChecklistItem, drill=drill, position=position)
    try:
        services.tick_checklist_item(item=item, user=request.user, state=request.POST.get("state", ""),
                                     note=request.POST.get("note", ""))
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    return _after_review_action(request, drill)


@require_http_methods(["GET", "POST"])
@requires(Capability.PARTICIPATE)
def lesson_new(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _drill(pk)
    position = request.GET.get("step") or request.POST.get("step") or ""
    step_run = (get_object_or_404(StepRun.objects.select_related("step"), drill=drill, position=int(position))
                if position.isdigit() else None)
    if request.method == "GET":
        initial = {}
        if step_run is not None:
            initial = {"title": f"{step_run.step.name}: {step_run.get_status_display().lower()}",
                       "what_happened": step_run.note or step_run.error,
                       "runbook": drill.runbook_version.runbook_id, "step_key": step_run.step.key}
        form = LessonForm(initial=initial, system=drill.system)
    else:
        form = LessonForm(request.POST, system=drill.system)
        if form.is_valid():
            try:
                services.record_lesson(drill=drill, user=request.user, title=form.cleaned_data["title"],
                                       what_happened=form.cleaned_data["what_happened"], why=form.cleaned_data["why"],
                                       step_run=step_run, action=form.draft())
            except services.ReviewRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, "Lesson recorded.")
                return redirect(drill)
    return render(request, "reviews/lesson_form.html", {"drill": drill, "form": form, "step_run": step_run},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@requires(Capability.PARTICIPATE)
def action_item_new(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = get_object_or_404(Lesson.objects.select_related("drill__system", "drill__runbook_version"), pk=pk)
    drill = lesson.drill
    form = ActionItemForm(request.POST or None, system=drill.system,
                          initial={"runbook": drill.runbook_version.runbook_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.add_action_item(lesson=lesson, user=request.user, draft=form.draft())
        except services.ReviewRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "Action item added.")
            return redirect(drill)
    return render(request, "reviews/action_item_form.html", {"drill": drill, "lesson": lesson, "form": form},
                  status=400 if form.errors else 200)


@require_POST
@requires(Capability.PARTICIPATE)
def action_item_status(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ActionItem.objects.select_related("lesson__drill"), pk=pk)
    try:
        services.set_action_status(item=item, user=request.user, status=request.POST.get("status", ""))
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    if request.POST.get("back") == "list":
        return redirect("reviews:action_item_list")
    return _after_review_action(request, _drill(item.lesson.drill_id))


@require_GET
@requires(Capability.VIEW)
def action_item_list(request: HttpRequest) -> HttpResponse:
    system = get_object_or_404(System, slug=request.GET["system"]) if request.GET.get("system") else None
    status = request.GET.get("status", "open")
    return render(request, "reviews/action_item_list.html", {
        "items": selectors.action_items(system=system, status=status)[:500], "system": system, "status": status,
        "today": selectors.today(), "statuses": ActionItem.Status.choices})


@require_GET
@requires(Capability.VIEW)
def open_action_items_partial(request: HttpRequest) -> HttpResponse:
    """Open and overdue action items, of one system (``?system=slug``) or of all: the system page
    and the dashboard include it with htmx."""
    system = get_object_or_404(System, slug=request.GET["system"]) if request.GET.get("system") else None
    items = selectors.open_action_items(system=system)
    return render(request, "reviews/partials/open_action_items.html", {
        "items": items[:INCLUDE_ROWS], "open_count": items.count(), "overdue_count": selectors.overdue_count(system=system),
        "system": system, "today": selectors.today()})


@require_GET
@requires(Capability.VIEW)
def checklist_template(request: HttpRequest) -> HttpResponse:
    return render(request, "reviews/checklist_template.html", {
        "items": checklist.checklist_template(), "evidence_choices": Evidence.choices})


@require_POST
@requires(Capability.COORDINATE)
def checklist_template_add(request: HttpRequest) -> HttpResponse:
    try:
        services.add_template_item(user=request.user, title=request.POST.get("title", ""),
                                   evidence=request.POST.get("evidence", ""))
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    return redirect("reviews:checklist_template")


@require_POST
@requires(Capability.COORDINATE)
def checklist_template_update(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ChecklistTemplateItem, pk=pk)
    try:
        services.update_template_item(item=item, user=request.user, title=request.POST.get("title", ""),
                                      evidence=request.POST.get("evidence", ""), active=request.POST.get("active") == "on")
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Saved. Drills started from now on get the changed checklist.")
    return redirect("reviews:checklist_template")


@require_GET
@requires(Capability.VIEW)
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    _drill(pk)
    return render(request, "reviews/report_page.html", {**drill_report(pk).as_context(), "sign_off_form": SignOffForm(),
                                                        "independent_form": IndependentTesterForm()})


@require_POST
@requires(Capability.COORDINATE)
def report_independent_tester(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _drill(pk)
    try:
        services.record_independent_tester(drill=drill, user=request.user, name=request.POST.get("tester", ""),
                                           capacity=request.POST.get("capacity", ""))
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Recorded: {drill.independent_tester} {drill.get_independent_capacity_display()}.")
    return redirect("reviews:report", pk=pk)


@require_POST
@requires(Capability.SIGN_OFF)
def report_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _drill(pk)
    form = SignOffForm(request.POST)
    try:
        if not form.is_valid():
            raise services.ReviewRefused("Say what you checked in a comment: the sign-off is recorded with it.")
        revision = signoff.sign_off_report(drill=drill, user=request.user, comment=form.cleaned_data["comment"])
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Signed off revision {revision.number} (sha256 {revision.sha256[:12]}…).")
    return redirect("reviews:report", pk=pk)


@require_GET
@requires(Capability.VIEW)
def report_revision(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """A stored revision, byte for byte as it was digested: what a reviewer signed off."""
    revision = get_object_or_404(ReportRevision, drill_id=pk, number=number)
    response = HttpResponse(revision.content, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="drill-{pk}-report-r{number}.html"'
    return response


@require_POST
@requires(Capability.APPROVE)
def action_item_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ActionItem.objects.select_related("lesson__drill", "management_acknowledged_by"), pk=pk)
    try:
        services.acknowledge_deficiency(item=item, user=request.user, comment=request.POST.get("comment", ""))
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"“{item.title}” acknowledged for management.")
    return redirect("reviews:action_item_list")


@require_POST
@requires(Capability.SIGN_OFF)
def action_item_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ActionItem.objects.select_related("lesson__drill", "system"), pk=pk)
    try:
        drill = services.confirm_deficiency_fixed(item=item, user=request.user)
    except services.ReviewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"“{item.title}” closed: drill #{drill.pk} verified the fix.")
    return redirect("reviews:action_item_list")


@require_GET
@requires(Capability.VIEW)
def report_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    _drill(pk)
    response = HttpResponse(report_pdf(drill_report(pk)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="drill-{pk}-report.pdf"'
    return response


@require_GET
@requires(Capability.AUDIT)
def evidence_zip_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Holds the drill's audit entries, so it needs the audit capability."""
    _drill(pk)
    response = HttpResponse(evidence_zip(pk), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="drill-{pk}-evidence.zip"'
    return response
