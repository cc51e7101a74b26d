"""Issuing a quarter: once a quarter has ended its report is generated in every format and stored
unchanged with its SHA-256 digest. Beat does it after each quarter's end; a coordinator may issue a
past quarter that was never archived. An archived quarter is never generated again."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record

from .documents import render_csv, render_html, render_pdf
from .models import ArchivedReport
from .quarters import Quarter
from .report import quarterly_report


class ArchiveRefused(Exception):
    """The quarter cannot be archived (yet, or again); the message says why."""


def archived(quarter: Quarter) -> dict[str, ArchivedReport]:
    return {a.format: a for a in ArchivedReport.objects.filter(quarter=str(quarter)).defer("content")}


def archive_quarter(*, quarter: Quarter, user: Any = None) -> dict[str, ArchivedReport]:
    if not quarter.has_ended():
        raise ArchiveRefused(f"{quarter} runs until {quarter.last_day:%d %B %Y}: a quarter is archived once it has "
                             "ended, so the issued report is complete.")
    existing = archived(quarter)
    if existing:
        first = min(existing.values(), key=lambda a: a.generated_at)
        raise ArchiveRefused(f"{quarter} was archived on {timezone.localtime(first.generated_at):%Y-%m-%d %H:%M}; "
                             "an issued report is never replaced.")
    report = quarterly_report(quarter)
    html = render_html(report)
    documents = {"html": html, "pdf": render_pdf(report, html), "csv": render_csv(report)}
    try:
        with transaction.atomic():
            stored = {}
            for fmt, content in documents.items():
                stored[fmt] = ArchivedReport(quarter=str(quarter), format=fmt, content=content,
                                             generated_at=report.generated_at,
                                             generated_by=user if getattr(user, "is_authenticated", False) else None)
                stored[fmt].save()
            record("report.archived", actor=user, obj=stored["pdf"],
                   summary=f"archived the quarterly DR report {quarter}",
                   after={fmt: a.sha256 for fmt, a in stored.items()})
    except IntegrityError:
        # Beat and a person archived the same quarter at once: the first one stands.
        raise ArchiveRefused(f"{quarter} was archived a moment ago; an issued report is never replaced.") from None
    return stored


def archive_ended_quarter() -> str | None:
    """Beat: archive the quarter that ended last, once. Returns the quarter archived, if any."""
    quarter = Quarter.current().previous()
    if ArchivedReport.objects.filter(quarter=str(quarter)).exists():
        return None
    try:
        archive_quarter(quarter=quarter)
    except ArchiveRefused:
        return None
    return str(quarter)
