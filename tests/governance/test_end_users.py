"""End-user data rights: the export holds every kind, the deletion leaves no row behind in any
table that holds end-user data (tables.py lists them; a new such model fails the last test until
it is listed), is audited without the id, idempotent, and touches nobody else."""

import json

import pytest
from django.apps import apps as django_apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.core.audit import SYSTEM, AuditAction
from apps.core.errors import NotFound
from apps.datasets.models import CaseRevision, DatasetVersion
from apps.governance.end_users import selectors
from apps.governance.end_users.services import end_user_delete
from apps.governance.end_users.tables import END_USER_TABLES, NOT_END_USER_TABLES
from apps.governance.models import AuditEvent
from apps.problems.models import Problem
from apps.traces.models import Turn, TurnTombstone
from tests.factories.governance import end_user_world

pytestmark = pytest.mark.django_db

ALICE = "alice 7f3e/ü"


def _export(project, end_user_id=ALICE) -> dict:
    return json.loads(b"".join(selectors.end_user_export(projects=[project], end_user_id=end_user_id)))


def _rows_mentioning(project, needle: str) -> dict[str, int]:
    """Every row of every end-user table of ``project`` whose stored values contain ``needle``."""
    found = {}
    for label in END_USER_TABLES:
        model = django_apps.get_model(label)
        rows = model.objects.for_project(project).values()
        hits = sum(needle in json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) for row in rows)
        if hits:
            found[label] = hits
    return found


def test_the_export_contains_every_kind(project):
    world = end_user_world(project, ALICE)

    document = _export(project)

    assert document["end_user_id"] == ALICE
    assert document["counts"] == {
        "turns": 2, "steps": 4, "signals": 2, "feedback": 3, "waiting": 1, "detection_passes": 2, "judge_verdicts": 2,
        "review_items": 1, "decisions": 1, "problem_memberships": 2, "dataset_cases": 3,
    }
    assert document["counts"] == selectors.end_user_counts(project=project, end_user_id=ALICE)
    (section,) = document["projects"]
    reviewed = next(turn for turn in section["turns"] if turn["id"] == str(world["turns"][0].id))
    assert reviewed["review_items"][0]["decisions"][0]["correction"] == "The refund window is 30 days."
    assert len(reviewed["dataset_cases"]) == 2  # the copy and its edit in the next version
    assert [row["comment"] for row in section["feedback"]] == ["About someone else's answer"]
    assert [row["comment"] for row in section["waiting"]] == ["Early feedback"]
    assert [case["input"] for case in section["dataset_cases"]] == ["An old question of mine"]
    assert section["problem_memberships"][0]["affected_key"] == ALICE


def test_deletion_leaves_no_row_behind_and_touches_nobody_else(project, other_project):
    world = end_user_world(project, ALICE)
    end_user_world(other_project, ALICE)  # the same id in another project (another tenant) stays
    bob = world["other_turn"]
    questions = [turn.input for turn in world["turns"]]
    versions = DatasetVersion.objects.for_project(project).count()

    result = end_user_delete(organization=project.organization, projects=[project], end_user_id=ALICE, actor=SYSTEM)

    assert result["deleted"] == {
        "dataset_cases": 3, "dataset_versions": 2, "decisions": 1, "detection_passes": 2, "judge_verdicts": 2, "feedback": 4,
        "problem_memberships": 2, "review_items": 1, "signals": 2, "steps": 4, "turns": 2,
    }
    assert _rows_mentioning(project, ALICE) == {}
    for question in [*questions, "An old question of mine", "My order never came", "Early feedback"]:
        assert _rows_mentioning(project, question) == {}
    assert all(value == 0 for value in selectors.end_user_counts(project=project, end_user_id=ALICE).values())
    # Dataset history keeps its shape: a new version removed the live cases; past revisions are erased shells.
    assert DatasetVersion.objects.for_project(project).count() == versions + 2
    erased = CaseRevision.objects.for_project(project).filter(erased_at__isnull=False)
    assert erased.count() == 3 and set(erased.values_list("input", flat=True)) == {""}
    assert set(TurnTombstone.objects.for_project(project).values_list("reason", flat=True)) == {"retention", "end_user"}
    assert Problem.objects.for_project(project).get(pk=world["problem"].pk).turn_count == 0
    # Bob's turn stays; the other project's alice is untouched.
    assert Turn.objects.for_project(project).filter(id=bob.id).exists()
    assert selectors.end_user_counts(project=other_project, end_user_id=ALICE)["turns"] == 2
    event = AuditEvent.objects.for_org(project.organization).get(action=AuditAction.END_USER_DELETED)
    assert event.target_id == selectors.end_user_digest(organization=project.organization, end_user_id=ALICE)
    assert ALICE not in json.dumps([event.target_id, event.target_label, event.before, event.after], ensure_ascii=False)
    assert event.after["deleted"]["turns"] == 2


def test_deletion_twice_finds_nothing_the_second_time(project):
    end_user_world(project, ALICE)
    end_user_delete(organization=project.organization, projects=[project], end_user_id=ALICE, actor=SYSTEM)

    with pytest.raises(NotFound) as error:
        end_user_delete(organization=project.organization, projects=[project], end_user_id=ALICE, actor=SYSTEM)

    assert error.value.code == "not_found"
    assert AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.END_USER_DELETED).count() == 1


@pytest.mark.parametrize("raw", ["", "a\x00b", "\ud800", "x" * 201, None])
def test_bad_end_user_ids_are_refused(raw):
    with pytest.raises(Exception) as error:
        selectors.end_user_id_clean(raw)
    assert getattr(error.value, "code", None) == "invalid"


def test_every_table_with_end_user_data_is_listed():
    """A model with an end-user id, a turn id, an affected key, or a foreign key to a listed
    table must be in END_USER_TABLES (export and deletion cover it) or say why not."""
    listed = set(END_USER_TABLES) | set(NOT_END_USER_TABLES)
    suspects = set()
    for model in django_apps.get_models():
        label = model._meta.label
        for field in model._meta.concrete_fields:
            points_at_listed = isinstance(field, models.ForeignKey) and field.related_model._meta.label in END_USER_TABLES
            if field.name in {"end_user_id", "turn_id", "affected_key"} or points_at_listed:
                suspects.add(label)

    assert suspects - listed == set()
    assert listed - suspects == set()


def test_the_organization_page_finds_exports_and_deletes_across_projects(project, other_project, members, outsider):
    from tests.factories.projects import ProjectFactory
    from tests.factories.traces import TurnFactory
    from tests.organizations.matrix import caller

    sibling = ProjectFactory(organization=project.organization, name="Billing agent")
    for where, turns in ((project, 2), (sibling, 1), (other_project, 1)):
        TurnFactory.create_batch(turns, project=where, end_user_id=ALICE)
    TurnFactory(project=sibling, end_user_id="bob")
    client = caller("admin", members=members, outsider=outsider)
    page = "/orgs/acme/end-users/"

    shown = client.get(page, {"id": ALICE})
    document = json.loads(b"".join(client.get(page, {"id": ALICE, "download": "json"}).streaming_content))  # streamed: read it now
    refused = client.post(page, {"id": ALICE, "confirm": "alice"})
    deleted = client.post(page, {"id": ALICE, "confirm": ALICE})

    listed = shown.content.decode()
    assert shown.status_code == 200 and "Support agent" in listed and "Billing agent" in listed and "Other agent" not in listed
    assert document["counts"]["turns"] == 3 and {p["name"] for p in document["projects"]} == {"Support agent", "Billing agent"}
    assert refused.status_code == 400 and "Type the end-user id exactly" in refused.content.decode()
    assert deleted.status_code == 200 and 'data-testid="end-user-deleted"' in deleted.content.decode()
    for where, left in ((project, 0), (sibling, 0), (other_project, 1)):  # another organization's alice stays
        assert selectors.end_user_counts(project=where, end_user_id=ALICE)["turns"] == left
    assert selectors.end_user_counts(project=sibling, end_user_id="bob")["turns"] == 1
    assert AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.END_USER_DELETED).count() == 2  # one per project
