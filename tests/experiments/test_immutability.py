"""Versions and label history are immutable in the database; labels point inside their prompt."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, transaction
from django.db.utils import DatabaseError

from apps.core.audit import Actor
from apps.core.sql import tenant_sql
from apps.experiments.models import PromptLabel, PromptLabelMove, PromptVersion
from apps.projects.services import project_delete
from tests.factories.experiments import prompt_with_versions


def _raw(project, sql):
    with transaction.atomic(), tenant_sql(project=project) as cursor:
        cursor.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE experiments_promptversion SET template = 'changed' WHERE project_id = %(project_id)s",
        "UPDATE experiments_promptversion SET number = number + 10 WHERE project_id = %(project_id)s",
        "DELETE FROM experiments_promptversion WHERE project_id = %(project_id)s",
        "UPDATE experiments_promptlabelmove SET kind = 'deploy' WHERE project_id = %(project_id)s",
        "DELETE FROM experiments_promptlabelmove WHERE project_id = %(project_id)s",
    ],
    ids=["update-template", "update-number", "delete-version", "update-history", "delete-history"],
)
def test_raw_sql_cannot_change_a_version_or_the_label_history(project, sql):
    prompt_with_versions(project=project, count=2, labels={"production": 1})
    before = list(PromptVersion.objects.for_project(project).order_by("number").values_list("number", "template"))

    with pytest.raises(DatabaseError, match="is immutable"):
        _raw(project, sql)

    assert list(PromptVersion.objects.for_project(project).order_by("number").values_list("number", "template")) == before
    assert PromptLabelMove.objects.for_project(project).count() == 1


def test_the_orm_cannot_save_an_edited_version(project):
    prompt_with_versions(project=project, count=1)
    version = PromptVersion.objects.for_project(project).get()
    version.template = "edited"

    with pytest.raises(DatabaseError, match="is immutable"), transaction.atomic():
        version.save()

    assert PromptVersion.objects.for_project(project).get().template == "Version 1: help with {{question}}."


def test_a_label_cannot_point_at_another_prompts_version_even_in_raw_sql(project):
    first = prompt_with_versions(project=project, name="first", count=1, labels={"production": 1})
    second = prompt_with_versions(project=project, name="second", count=1)
    foreign_version = PromptVersion.objects.for_project(project).get(prompt=second)

    with pytest.raises((IntegrityError, InternalError, ProgrammingError)), transaction.atomic():
        PromptLabel.objects.for_project(project).filter(prompt=first).update(version=foreign_version)
        with tenant_sql(unscoped="test: check the deferred constraints now") as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert PromptLabel.objects.for_project(project).get(prompt=first).version.prompt_id == first.pk


def test_deleting_the_project_removes_its_prompts(project, owner):
    prompt_with_versions(project=project, count=2, labels={"production": 2})

    project_delete(project=project, actor=Actor(user=owner))

    assert PromptVersion.all_tenants.filter(project_id=project.pk).count() == 0  # unscoped: the project is gone
    assert PromptLabelMove.all_tenants.filter(project_id=project.pk).count() == 0  # unscoped: the project is gone
