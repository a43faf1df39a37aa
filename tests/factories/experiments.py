"""Prompts, made through the services (a version's number comes from its prompt's counter and a
version row cannot be changed afterwards, so there is no model factory to tweak one)."""

from __future__ import annotations

from apps.core.audit import SYSTEM
from apps.experiments.services.labels import prompt_label_move
from apps.experiments.services.prompts import Author, prompt_version_create

AUTHOR = Author(actor=SYSTEM, label="tests")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def prompt_version(*, project, name: str = "support-agent", template: str | None = None, tools=None, settings=None,
                   message: str = "", created_at=None):
    """The next version of ``name`` in ``project`` (the prompt is made if new)."""
    return prompt_version_create(
        project=project, name=name, template=template or "You are {{agent}}. Answer {{question}}.",
        tools=tools, settings=settings or {"model": "gpt-4o-mini", "temperature": 0.2}, message=message,
        author=AUTHOR, created_at=created_at,
    )


def prompt_with_versions(*, project, name: str = "support-agent", count: int = 2, labels: dict | None = None):
    """A prompt with ``count`` versions and ``labels`` (label name → version number); returns the prompt."""
    versions = [
        prompt_version(project=project, name=name, template=f"Version {n}: help with {{{{question}}}}.", message=f"v{n}")
        for n in range(1, count + 1)
    ]
    prompt = versions[0].prompt
    for label, number in (labels or {}).items():
        prompt_label_move(prompt=prompt, name=label, version=number, author=AUTHOR, role=None)
    prompt.refresh_from_db()
    return prompt


def dataset_with_cases(*, project, name: str = "Refund failures", cases=None):
    """A dataset with one version of hand cases (``cases``: list of (input, expected_output))."""
    from apps.datasets.services.changes import cases_add, revision_new
    from tests.factories.datasets import AUTHOR as DATASET_AUTHOR, DatasetFactory

    dataset = DatasetFactory(project=project, name=name)
    pairs = cases if cases is not None else [
        ("How long is the refund window?", "30 days"),
        ("Can I get a refund after 40 days?", "No, the window is 30 days"),
        ("What is 2+2?", "4"),
    ]
    cases_add(dataset=dataset, author=DATASET_AUTHOR,
              revisions=[revision_new({"input": q, "expected_output": a}, source="hand") for q, a in pairs])
    dataset.refresh_from_db()
    return dataset


def case_ids(dataset, number: int = 1) -> list[str]:
    from apps.datasets.selectors.datasets import revisions_at

    return [str(c) for c in revisions_at(dataset=dataset, number=number).order_by("position").values_list("case_id", flat=True)]


def experiment(*, project, dataset, name: str = "baseline", scorers=None, prompt=None):
    from apps.experiments.services.experiments import experiment_create

    return experiment_create(project=project, name=name, dataset=dataset.name, dataset_version=dataset.latest_version,
                             prompt=prompt, scorers=scorers if scorers is not None else [{"name": "exact", "kind": "exact_match"}])
