from django import forms


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=100, label="Project name")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Key name", help_text="Where the key is used, e.g. 'production agent'.")


class ProjectAccessForm(forms.Form):
    is_restricted = forms.BooleanField(required=False, label="Restrict this project to the members checked below")
    member_ids = forms.TypedMultipleChoiceField(coerce=int, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, memberships=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member_ids"].choices = [(m.pk, f"{m.user.email} ({m.role})") for m in memberships]


class RedactionForm(forms.Form):
    """The redaction settings page: built-in recognisers, placeholder style, customer patterns
    (one ``name: regex`` a line) and the "test your settings" text."""

    kinds = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Redact")
    placeholder_style = forms.ChoiceField(widget=forms.RadioSelect, label="Placeholders")
    patterns = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Your patterns",
        help_text="One per line, name: regular expression — e.g. ticket: TCK-\\d{6}. Checked when saved.",
    )
    sample = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}),
                             label="Test your settings", help_text="Paste a text to see what it would be stored as.")

    def __init__(self, *args, kind_choices=(), style_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kinds"].choices = kind_choices
        self.fields["placeholder_style"].choices = style_choices

    def clean_patterns(self) -> list[dict]:
        patterns = []
        for number, line in enumerate(self.cleaned_data["patterns"].splitlines(), start=1):
            if not line.strip():
                continue
            name, separator, source = line.partition(":")
            if not separator:
                raise forms.ValidationError(f"Line {number}: write name: regular expression.")
            patterns.append({"name": name.strip(), "regex": source.strip()})
        return patterns

    @staticmethod
    def patterns_as_text(patterns: list[dict]) -> str:
        return "\n".join(f"{p['name']}: {p['regex']}" for p in patterns)
