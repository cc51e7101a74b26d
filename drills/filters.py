"""The drill history's filters (system, runbook, mode, status, period), kept in the URL so a filtered
list can be bookmarked, shared and reloaded."""

from __future__ import annotations

import django_filters
from django import forms

from runbooks.models import Runbook, System

from .models import Drill


class DrillFilter(django_filters.FilterSet):
    system = django_filters.ModelChoiceFilter(queryset=System.objects.order_by("name"), to_field_name="slug",
                                              empty_label="Any system")
    runbook = django_filters.ModelChoiceFilter(field_name="runbook_version__runbook", to_field_name="slug",
                                               queryset=Runbook.objects.order_by("title"), empty_label="Any runbook")
    mode = django_filters.ChoiceFilter(choices=Drill.Mode.choices, empty_label="Any mode")
    status = django_filters.ChoiceFilter(choices=Drill.Status.choices, empty_label="Any status")
    started_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From",
                                              widget=forms.DateInput(attrs={"type": "date"}))
    started_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="Until",
                                               widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Drill
        fields = ["system", "runbook", "mode", "status", "started_after", "started_before"]
