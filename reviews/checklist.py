"""The DR test checklist: its template (the handbook's ten items to start with) and each drill's copy
of it, made when the drill starts. Apart from the services, because the report and the review panel
read a drill's checklist and copy it when it is missing."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from .models import ChecklistItem, ChecklistTemplateItem, Evidence

# The DR test checklist of the handbook our users follow, and what proves each item by itself.
HANDBOOK_CHECKLIST = [
    ("Notify stakeholders of the DR test", Evidence.NONE),
    ("Document the current state (baseline)", Evidence.BASELINE),
    ("Initiate the failover procedure", Evidence.NONE),
    ("Verify application functionality", Evidence.NONE),
    ("Test data integrity", Evidence.INTEGRITY),
    ("Measure RTO (time to restore)", Evidence.RTO),
    ("Measure RPO (data loss)", Evidence.RPO),
    ("Perform failback", Evidence.FAILBACK),
    ("Document lessons learned", Evidence.NONE),
    ("Update the DR runbooks", Evidence.NONE),
]


def checklist_template() -> list[ChecklistTemplateItem]:
    """The template, which starts as the handbook's ten items: written the first time it is needed
    (items are deactivated, never deleted, so an empty table means it was never written)."""
    items = list(ChecklistTemplateItem.objects.order_by("position", "pk"))
    if items:
        return items
    with transaction.atomic():
        if not ChecklistTemplateItem.objects.select_for_update().exists():
            ChecklistTemplateItem.objects.bulk_create(ChecklistTemplateItem(position=n, title=title, evidence=evidence)
                                                      for n, (title, evidence) in enumerate(HANDBOOK_CHECKLIST, start=1))
    return list(ChecklistTemplateItem.objects.order_by("position", "pk"))


def ensure_checklist(drill_id: int) -> list[ChecklistItem]:
    """The drill's checklist, copied from the template the first time it is needed (normally when the
    drill starts). Safe to call any number of times, from any process."""
    items = list(ChecklistItem.objects.filter(drill_id=drill_id).order_by("position"))
    if items:
        return items
    template = [t for t in checklist_template() if t.active]
    try:
        with transaction.atomic():
            ChecklistItem.objects.bulk_create(
                ChecklistItem(drill_id=drill_id, position=n, title=t.title, evidence=t.evidence)
                for n, t in enumerate(template, start=1))
    except IntegrityError:  # another request copied it at the same moment
        pass
    return list(ChecklistItem.objects.filter(drill_id=drill_id).order_by("position"))
