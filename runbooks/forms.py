"""Forms of the planning pages: importing runbooks as YAML."""

from __future__ import annotations

from django import forms

MAX_UPLOAD_BYTES = 1_000_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data, initial=None):  # type: ignore[no-untyped-def]
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class RunbookImportForm(forms.Form):
    files = MultipleFileField(required=False, widget=MultipleFileInput(attrs={"accept": ".yaml,.yml"}),
                              label="YAML files")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
                           label="…or paste YAML")

    def sources(self) -> list[tuple[str, str]]:
        """(name, text) pairs for ``import_runbooks``; form errors for unreadable uploads."""
        sources: list[tuple[str, str]] = []
        for upload in self.cleaned_data.get("files") or []:
            if upload.size > MAX_UPLOAD_BYTES:
                self.add_error("files", f"{upload.name} is larger than {MAX_UPLOAD_BYTES // 1000} kB; "
                                        "a runbook file is a few kB.")
                continue
            try:
                sources.append((upload.name, upload.read().decode("utf-8")))
            except UnicodeDecodeError:
                self.add_error("files", f"{upload.name} is not UTF-8 text; save it as UTF-8 YAML.")
        if self.cleaned_data.get("text", "").strip():
            sources.append(("pasted YAML", self.cleaned_data["text"]))
        if not sources and not self.errors:
            self.add_error(None, "Choose a YAML file or paste YAML to import.")
        return sources
