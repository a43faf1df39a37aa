from django import forms

from apps.traces.schemas import MAX_TEXT


class WidgetForm(forms.Form):
    rating = forms.ChoiceField(choices=[("up", "Helpful"), ("down", "Not helpful")], required=False, widget=forms.RadioSelect)
    comment = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))
    correction = forms.CharField(
        required=False, max_length=MAX_TEXT, label="What should it have said?", widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean(self):
        data = super().clean()
        if not data.get("rating") and not data.get("comment") and not data.get("correction"):
            raise forms.ValidationError("Choose helpful or not helpful, or write a comment.")
        return data
