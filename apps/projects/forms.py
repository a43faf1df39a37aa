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
