"""The audit trail in the browser: filter, read, export (the evidence pack of a drill)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import Capability, requires

from .services import export_csv, export_jsonl, filtered_entries

PAGE_SIZE = 100


def _filters(request: HttpRequest) -> dict:
    drill = request.GET.get("drill", "")
    return {"actor": request.GET.get("actor", "").strip(), "action": request.GET.get("action", "").strip(),
            "drill_id": int(drill) if drill.isdigit() else None,
            "object_type": request.GET.get("object_type", "").strip()}


@require_GET
@requires(Capability.AUDIT)
def audit_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    page = Paginator(filtered_entries(**filters).reverse(), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/audit_list.html", {"page": page, "filters": filters, "query": query.urlencode()})


@require_GET
@requires(Capability.AUDIT)
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    entries = filtered_entries(**_filters(request))
    if fmt == "csv":
        response = StreamingHttpResponse(export_csv(entries), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(export_jsonl(entries), content_type="application/x-ndjson")
    drill = request.GET.get("drill", "")
    name = f"drill-{drill}-evidence" if drill.isdigit() else "audit"
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
