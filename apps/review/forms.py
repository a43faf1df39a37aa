from __future__ import annotations

from django import forms

from apps.review.models import MAX_REVIEWERS_PER_ITEM, Verdict

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
    any_turn = forms.BooleanField(
        required=False, label="Any turn (route every turn here, sampled)",
        help_text="With a sample of a few percent: an unbiased look at ordinary traffic.",
    )
    priority = forms.IntegerField(min_value=-1000, max_value=1000, initial=0)
    sample_percent = forms.IntegerField(min_value=0, max_value=100, initial=100, label="Sample (%)")
    escalate_to = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Escalate to")
    reviewers_per_item = forms.IntegerField(
        min_value=1, max_value=MAX_REVIEWERS_PER_ITEM, initial=1, required=False, label="Reviewers per item",
        help_text="Distinct reviewers who decide each item; the majority verdict wins, a tie escalates "
                  "(or waits for an admin when there is no second level).",
    )
    blind = forms.BooleanField(required=False, label="Blind review (reviewers do not see earlier verdicts)")
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

    def clean_reviewers_per_item(self):
        return self.cleaned_data["reviewers_per_item"] or 1

    def routing(self) -> dict:
        data = self.cleaned_data
        return {
            "signal_kinds": data["signal_kinds"], "any_turn": data["any_turn"], "priority": data["priority"],
            "sample_percent": data["sample_percent"],
        }


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


class TaxonomyForm(forms.Form):
    """The taxonomy as text: one category a line, ``name: short description``."""

    categories = forms.CharField(
        max_length=20000, widget=forms.Textarea(attrs={"rows": 10}), label="Failure categories",
        help_text="One per line, in the order reviewers see them: “name: short description”. "
                  "Renaming or removing a category leaves past decisions as they were.",
    )

    @staticmethod
    def as_text(categories: list[dict]) -> str:
        return "\n".join(f"{c['name']}: {c['description']}" if c["description"] else c["name"] for c in categories)

    def clean_categories(self) -> list[dict]:
        parsed = []
        for line in self.cleaned_data["categories"].splitlines():
            name, _, description = line.partition(":")
            if name.strip():
                parsed.append({"name": name.strip(), "description": description.strip()})
        return parsed


class AssignForm(forms.Form):
    member = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Assign to")

    def __init__(self, *args, reviewers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", "Anyone")] + [(m.pk, m.user.email) for m in reviewers]
