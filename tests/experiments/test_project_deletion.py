"""Deleting a project takes its prompts, datasets, experiments, changes and validations with it."""

import pytest

from apps.core.audit import SYSTEM
from apps.datasets.models import Dataset
from apps.experiments.models import Change, Experiment, PromptVersion, Validation
from apps.experiments.services.changes import change_create
from apps.projects.models import Project
from apps.projects.services import project_delete
from tests.factories.experiments import AUTHOR, dataset_with_cases, experiment, prompt_with_versions

pytestmark = pytest.mark.django_db


def test_a_project_with_experiments_and_changes_can_be_deleted(project, other_project):
    for owner in (project, other_project):
        prompt_with_versions(project=owner, count=2, labels={"production": 1})
        dataset = dataset_with_cases(project=owner)
        experiment(project=owner, dataset=dataset, prompt={"name": "support-agent", "version": 1})
        change = change_create(project=owner, title="Fix refunds", prompt="support-agent", candidate=2, baseline=1,
                               author=AUTHOR)
        Validation.all_tenants.create(project=owner, change=change, kind="offline", inputs={"kind": "offline"},
                                      inputs_hash=f"h-{owner.pk}", status="done", verdict="ship", report={})

    project_delete(project=project, actor=SYSTEM)

    assert not Project.all_tenants.filter(pk=project.pk).exists()
    for model in (Experiment, Change, Validation, PromptVersion, Dataset):
        assert not model.all_tenants.filter(project_id=project.pk).exists()
        assert model.all_tenants.filter(project_id=other_project.pk).exists()
