"""Forms of the programme's pages: a planned drill, a line of the communication plan."""

from __future__ import annotations

from django import forms

from drills.models import Drill
from runbooks.models import Runbook, System

from .channels import check_address
from .models import Subscription
from .notifications import DEFAULT_EVENTS


class PlanForm(forms.Form):
    runbook = forms.ModelChoiceField(queryset=Runbook.objects.select_related("system").order_by("title"))
    scheduled_at = forms.DateTimeField(label="When", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    mode = forms.ChoiceField(choices=[(Drill.Mode.LIVE, "Live"), (Drill.Mode.DRY_RUN, "Dry-run")], initial=Drill.Mode.LIVE)
    confirmation = forms.CharField(required=False, label="System name (production live drills)")
    note = forms.CharField(required=False)


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=Subscription.Event.choices, initial=DEFAULT_EVENTS,
                                       widget=forms.CheckboxSelectMultiple)
    system = forms.ModelChoiceField(queryset=System.objects.order_by("tier", "name"), required=False,
                                    empty_label="Every system")

    class Meta:
        model = Subscription
        fields = ["name", "system", "channel", "address", "events", "update_minutes", "include_dry_runs"]
        help_texts = {"address": "E-mail: addresses, comma-separated. Apprise: a URL such as json://host/path or "
                                 "slack://…; write ${NAME} for a secret the workers hold in their environment."}

    def clean(self) -> dict:
        data = super().clean()
        if data.get("channel") and data.get("address"):
            problem = check_address(data["channel"], data["address"])
            if problem:
                self.add_error("address", problem)
        return data
