from django.contrib import admin

from audit.read_only_admin import ReadOnlyAdmin

from .models import Approval, Drill, DrillEvent, Measurement, StepRun


@admin.register(Drill)
class DrillAdmin(ReadOnlyAdmin):
    list_display = ("pk", "runbook_version", "system", "mode", "status", "started_by", "started_at", "finished_at")
    list_filter = ("status", "mode", "kind")


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ("drill", "position", "step", "status", "attempt", "started_at", "finished_at")


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    list_display = ("drill", "kind", "value_seconds", "target_seconds", "met", "method")


@admin.register(DrillEvent)
class DrillEventAdmin(ReadOnlyAdmin):
    list_display = ("drill", "at", "kind", "message")


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ("drill", "gate", "decision", "decided_by", "decided_at", "comment")
