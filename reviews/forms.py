"""Forms of the review pages: a lesson with its first action item, and further action items."""

from __future__ import annotations

from django import forms

from drills.models import IndependentCapacity
from runbooks.models import Runbook, System

from .models import ActionItem
from .services import ActionDraft


class ActionItemForm(forms.Form):
    action_title = forms.CharField(max_length=200, label="Action item: what to do")
    owner = forms.CharField(max_length=200, label="Owner (person or team)")
    due_date = forms.DateField(label="Due date", widget=forms.DateInput(attrs={"type": "date"}))
    runbook = forms.ModelChoiceField(queryset=Runbook.objects.none(), required=False, label="It fixes the runbook",
                                     empty_label="— the system, not a runbook —")
    step_key = forms.SlugField(max_length=100, required=False, label="…its step (key)")
    severity = forms.ChoiceField(choices=ActionItem.Severity.choices, required=False,
                                 label="Deficiency severity (a deficiency closes only when a re-test verifies it)")
    figure = forms.ChoiceField(choices=ActionItem.Figure.choices, required=False, label="…the figure a re-test must meet")

    def __init__(self, *args, system: System, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["runbook"].queryset = Runbook.objects.filter(system=system).order_by("title")

    def draft(self) -> ActionDraft:
        data = self.cleaned_data
        return ActionDraft(title=data["action_title"], owner=data["owner"], due_date=data["due_date"],
                           runbook=data["runbook"], step_key=data.get("step_key") or "",
                           severity=data.get("severity") or "", figure=data.get("figure") or "")


class LessonForm(ActionItemForm):
    title = forms.CharField(max_length=200, label="Lesson")
    what_happened = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What happened")
    why = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Why")
    field_order = ["title", "what_happened", "why", "action_title", "owner", "due_date", "runbook", "step_key",
                   "severity", "figure"]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # The action item is optional with a lesson: all of it or none of it.
        for name in ("action_title", "owner", "due_date"):
            self.fields[name].required = False

    def clean(self) -> dict:
        data = super().clean()
        given = [name for name in ("action_title", "owner", "due_date") if data.get(name)]
        if given and len(given) < 3:
            raise forms.ValidationError("An action item needs what to do, an owner and a due date (or leave all three empty).")
        return data

    def draft(self) -> ActionDraft | None:  # type: ignore[override]
        return super().draft() if self.cleaned_data.get("action_title") else None


class SignOffForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Sign-off comment (what you checked)")


class IndependentTesterForm(forms.Form):
    tester = forms.CharField(max_length=200, label="Independent tester (person and, if external, organisation)")
    capacity = forms.ChoiceField(choices=IndependentCapacity.choices, label="They")
