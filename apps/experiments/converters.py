"""URL converters for prompt names and label names (the patterns of apps.experiments.models)."""

from django.urls import register_converter

from apps.experiments.models import LABEL_PATTERN, NAME_PATTERN


class PromptNameConverter:
    regex = NAME_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


class LabelNameConverter(PromptNameConverter):
    regex = LABEL_PATTERN


register_converter(PromptNameConverter, "promptname")
register_converter(LabelNameConverter, "labelname")
