"""Pages of what we plan: systems and runbooks. Views stay thin and change state only through
runbooks.services. What was run against a system or runbook is drills' to tell: these pages load
its drill history as an htmx partial served by drills, so planning never reads what runs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Capability, requires

from . import editing, services
from .diffs import version_diff
from .forms import RunbookImportForm
from .models import EnvironmentChange, Runbook, System
from .plans import bindings_for_display, step_plan
from .yaml_format import RunbookFormatError

# Lists are paged: a company has thousands of systems, and a page renders what a person reads.
PAGE_SIZE = 50


@require_GET
@requires(Capability.VIEW)
def system_list(request: HttpRequest) -> HttpResponse:
    systems = (System.objects.annotate(runbook_count=Count("runbooks")).prefetch_related("dependencies")
               .order_by("tier", "name"))
    page = Paginator(systems, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "runbooks/system_list.html", {"systems": page.object_list, "page": page})


@require_GET
@requires(Capability.VIEW)
def system_detail(request: HttpRequest, slug: str) -> HttpResponse:
    system = get_object_or_404(System.objects.prefetch_related("dependencies", "dependents", "runbooks"), slug=slug)
    return render(request, "runbooks/system_detail.html", {
        "system": system,
        "environment_changes": list(system.environment_changes.filter(decision=EnvironmentChange.Decision.PENDING)
                                    .select_related("requested_by")),
        "targets": bindings_for_display(system.targets),
    })


@require_POST
@requires(Capability.ADMINISTER)
def environment_change_decide(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    change = get_object_or_404(EnvironmentChange, pk=pk, system__slug=slug)
    try:
        services.decide_environment_change(change=change, user=request.user, approve=request.POST.get("decision") == "approve",
                                           comment=request.POST.get("comment", ""))
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Decision recorded.")
    return redirect("runbooks:system_detail", slug=slug)


@require_GET
@requires(Capability.VIEW)
def runbook_list(request: HttpRequest) -> HttpResponse:
    return render(request, "runbooks/runbook_list.html", {**runbooks_page(request), "form": RunbookImportForm()})


def runbooks_page(request: HttpRequest) -> dict:
    runbooks = (Runbook.objects.select_related("system").prefetch_related("versions")
                .order_by("system__tier", "title", "pk"))
    page = Paginator(runbooks, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"runbooks": page.object_list, "page": page}


@require_GET
@requires(Capability.VIEW)
def runbook_detail(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = get_object_or_404(Runbook.objects.select_related("system"), slug=slug)
    versions = list(runbook.versions.select_related("created_by").order_by("-number"))
    version = versions[0] if versions else None
    if request.GET.get("version", "").isdigit():
        version = next((v for v in versions if v.number == int(request.GET["version"])), version)
    steps = list(version.steps.order_by("position")) if version else []
    for step in steps:
        step.plan = step_plan(step, runbook.system.targets)
    # Every version shows what changed against another: the one before it, or any one chosen.
    compare = None
    if version is not None and request.GET.get("compare", "").isdigit():
        compare = next((v for v in versions if v.number == int(request.GET["compare"])), None)
    elif version is not None:
        compare = next((v for v in versions if v.number < version.number), None)
    return render(request, "runbooks/runbook_detail.html", {
        "runbook": runbook, "versions": versions, "version": version, "steps": steps,
        "is_latest": bool(versions) and version == versions[0],
        "scenarios": services.scenarios_for(runbook.system),
        "compare": compare, "diff": version_diff(compare, version) if compare and compare != version else [],
    })


@require_http_methods(["GET", "POST"])
@requires(Capability.COORDINATE)
def runbook_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The latest version's YAML in an editor: *Preview changes* checks it with the import's parser
    and shows the diff; *Save as a new version* imports it (version N+1). Nothing is saved while any
    problem remains."""
    runbook = get_object_or_404(Runbook.objects.select_related("system"), slug=slug)
    latest = runbook.latest_version
    if latest is None:
        messages.error(request, "This runbook has no version to edit; import one first.")
        return redirect(runbook)
    context = {"runbook": runbook, "latest": latest, "text": editing.editable_text(latest), "based_on": latest.number,
               "problems": [], "preview": None}
    if request.method == "GET":
        return render(request, "runbooks/runbook_edit.html", context)
    text = request.POST.get("text", "")
    based_on = int(request.POST["based_on"]) if request.POST.get("based_on", "").isdigit() else latest.number
    context.update(text=text, based_on=based_on)
    try:
        if request.POST.get("action") == "save":
            version = editing.save_edit(runbook=runbook, text=text, user=request.user, based_on=based_on)
            if version is None:
                messages.info(request, "Nothing changed: no version was created.")
                return redirect(runbook)
            messages.success(request, f"Saved as v{version.number}.")
            return redirect(f"{runbook.get_absolute_url()}?version={version.number}#changes")
        context["preview"] = editing.preview_edit(runbook=runbook, text=text)
    except RunbookFormatError as error:
        context["problems"] = [str(p) for p in error.problems]
    except editing.EditConflict as conflict:
        context["problems"] = [str(conflict)]
    return render(request, "runbooks/runbook_edit.html", context, status=400 if context["problems"] else 200)


@require_http_methods(["GET", "POST"])
@requires(Capability.COORDINATE)
def runbook_import(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # Where a refused import leaves the address bar: take the person back to the form.
        return redirect(f"{reverse('runbooks:runbook_list')}#import")
    form = RunbookImportForm(request.POST, request.FILES)
    problems: list[str] = []
    if form.is_valid():
        sources = form.sources()
        if not form.errors:
            try:
                report = services.import_runbooks(sources=sources, user=request.user)
            except RunbookFormatError as error:
                problems = [str(p) for p in error.problems]
            else:
                messages.success(request, f"Imported. {report.summary().capitalize()}.")
                return redirect("runbooks:runbook_list")
    return render(request, "runbooks/runbook_list.html",
                  {**runbooks_page(request), "form": form, "problems": problems}, status=400)


@require_GET
@requires(Capability.VIEW)
def runbook_export(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    if slug is not None:
        get_object_or_404(Runbook, slug=slug)
    text = services.export_runbooks(runbook_slugs=[slug] if slug else None)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug or "runbooks"}.yaml"'
    return response


RUNBOOK_FORMAT_DOC = Path(settings.BASE_DIR) / "docs" / "runbook-format.md"


@require_GET
@requires(Capability.VIEW)
def runbook_format(request: HttpRequest) -> HttpResponse:
    """The runbook format's reference, where the import form and the editor name it: served by the
    app itself, since a DR tool often runs where the internet is not reachable."""
    try:
        text = RUNBOOK_FORMAT_DOC.read_text(encoding="utf-8")
    except OSError:
        raise Http404("docs/runbook-format.md is not installed with this copy of drdrill") from None
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
