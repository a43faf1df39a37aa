from __future__ import annotations

from django import forms

from apps.review.models import Verdict

KIND_RE = r"^[A-Za-z][A-Za-z0-9_.:\-]{0,63}$"


def _split(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class QueueForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    lease_seconds = forms.IntegerField(min_value=30, max_value=86400, initial=600, label="Lease (seconds)")
    signal_kinds = forms.CharField(
        required=False, max_length=2000, label="Signal and detector kinds",
        help_text="Comma-separated, e.g. thumbs_down, escalation, rephrase, agent_punted. Empty: nothing is routed here.",
    )
    priority = forms.IntegerField(min_value=-1000, max_value=1000, initial=0)
    sample_percent = forms.IntegerField(min_value=0, max_value=100, initial=100, label="Sample (%)")
    escalate_to = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Escalate to")
    categories = forms.CharField(
        required=False, max_length=2000, label="Failure categories",
        help_text="Comma-separated; empty means hallucination, retrieval miss, tool misuse, policy, tone, other.",
    )
    member_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Reviewers"
    )

    def __init__(self, *args, queues=(), memberships=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["escalate_to"].choices = [("", "—")] + [(q.pk, q.name) for q in queues]
        self.fields["member_ids"].choices = [(m.pk, f"{m.user.email} ({m.role})") for m in memberships]

    def clean_signal_kinds(self):
        import re

        kinds = _split(self.cleaned_data["signal_kinds"])
        bad = [k for k in kinds if not re.match(KIND_RE, k)]
        if bad:
            raise forms.ValidationError(f"Not a signal kind: {bad[0]}")
        return kinds

    def clean_categories(self):
        return [c[:64] for c in _split(self.cleaned_data["categories"])]

    def routing(self) -> dict:
        data = self.cleaned_data
        return {"signal_kinds": data["signal_kinds"], "priority": data["priority"], "sample_percent": data["sample_percent"]}


class DecisionForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    verdict = forms.ChoiceField(choices=Verdict.choices)
    category = forms.ChoiceField(required=False)
    correction = forms.CharField(required=False, max_length=20000, label="Correction (what it should have said)",
                                 widget=forms.Textarea(attrs={"rows": 3}))
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "—")] + [(c, f"{i}. {c}") for i, c in enumerate(categories, 1)]
