"""The per-project failure taxonomy: defaults, edits (page and service), validation, audit, migration."""

import importlib

import pytest
from django.urls import reverse

from apps.core.errors import ValidationFailed
from apps.core.roles import Role
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.core.audit import SYSTEM
from apps.review import selectors
from apps.review.models import DEFAULT_CATEGORIES, Decision, ReviewItem
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from tests.conftest import client_for
from tests.factories.traces import TurnFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.review.migrations.0004_taxonomy_from_queue_categories")


def _names(project):
    return [c["name"] for c in selectors.taxonomy_get(project=project)]


def _decide(project, queue, reviewer, **kwargs):
    ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)
    item = item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)
    return item, lambda: item_services.review_item_decide(item=item, reviewer=reviewer.user, **kwargs)


def test_a_new_project_has_the_default_taxonomy(project, other_project):
    queue_services.taxonomy_update(project=other_project, actor=SYSTEM, categories=[{"name": "elsewhere"}])

    assert _names(project) == ["hallucination", "retrieval miss", "tool misuse", "policy", "tone", "other"]
    assert all(c["description"] for c in selectors.taxonomy_get(project=project))
    assert _names(other_project) == ["elsewhere"]


def test_editing_the_taxonomy_is_audited_once_and_a_same_value_save_is_not(project):
    categories = [{"name": "wrong answer", "description": "Factually wrong."}, {"name": "tone", "description": ""}]

    queue_services.taxonomy_update(project=project, actor=SYSTEM, categories=categories)
    queue_services.taxonomy_update(project=project, actor=SYSTEM, categories=categories)

    assert _names(project) == ["wrong answer", "tone"]
    event = AuditEvent.objects.for_org(project.organization).get(action=AuditAction.TAXONOMY_CHANGED)
    assert [c["name"] for c in event.before["categories"]] == DEFAULT_CATEGORIES
    assert event.after == {"categories": categories}


@pytest.mark.parametrize(
    ("categories", "code"),
    [
        ([], "invalid"),
        ([{"name": ""}], "invalid"),
        ([{"name": "x" * 65}], "invalid"),
        ([{"name": "tone"}, {"name": "Tone "}], "duplicate_category"),
        ([{"name": "ok", "description": "d" * 301}], "invalid"),
        ([{"name": f"c{i}"} for i in range(51)], "invalid"),
    ],
)
def test_a_bad_taxonomy_is_refused_and_changes_nothing(project, categories, code):
    with pytest.raises(ValidationFailed) as refused:
        queue_services.taxonomy_update(project=project, actor=SYSTEM, categories=categories)

    assert (refused.value.code, refused.value.field) == (code, "categories")
    assert _names(project) == DEFAULT_CATEGORIES
    assert not AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.TAXONOMY_CHANGED).exists()


def test_decisions_are_validated_against_the_project_taxonomy(project, queue, reviewer):
    queue_services.taxonomy_update(project=project, actor=SYSTEM, categories=[{"name": "billing error"}])
    item, decide_old = _decide(project, queue, reviewer, verdict="confirm", category="hallucination")

    with pytest.raises(ValidationFailed) as refused:
        decide_old()
    decision = item_services.review_item_decide(item=item, reviewer=reviewer.user, verdict="confirm", category="billing error")

    assert (refused.value.code, refused.value.field) == ("unknown_category", "category")
    assert decision.category == "billing error"


def test_renaming_or_removing_a_category_never_rewrites_past_decisions(project, queue, reviewer):
    _, decide = _decide(project, queue, reviewer, verdict="confirm", category="tone")
    decide()

    queue_services.taxonomy_update(project=project, actor=SYSTEM, categories=[{"name": "manner"}, {"name": "other"}])

    assert list(Decision.objects.for_project(project).values_list("category", flat=True)) == ["tone"]


def test_admins_edit_the_taxonomy_on_its_page_and_members_only_read_it(project, members):
    url = reverse("review_taxonomy", kwargs={"org": project.organization.slug, "project": project.pk})
    body = {"categories": "wrong answer: Factually wrong\n\n  tone  :  Curt or rude\nother"}

    member_get = client_for(members[Role.MEMBER].user).get(url)
    refused = client_for(members[Role.REVIEWER].user).post(url, body)
    saved = client_for(members[Role.ADMIN].user).post(url, body)

    assert (member_get.status_code, refused.status_code, saved.status_code) == (200, 403, 302)
    assert "hallucination" in member_get.content.decode() and "taxonomy-form" not in member_get.content.decode()
    assert selectors.taxonomy_get(project=project) == [
        {"name": "wrong answer", "description": "Factually wrong"},
        {"name": "tone", "description": "Curt or rude"},
        {"name": "other", "description": ""},
    ]
    assert AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.TAXONOMY_CHANGED).count() == 1


def test_the_taxonomy_page_shows_a_refusal_on_the_form(project, members):
    url = reverse("review_taxonomy", kwargs={"org": project.organization.slug, "project": project.pk})

    response = client_for(members[Role.ADMIN].user).post(url, {"categories": "tone\nTone"})

    assert response.status_code == 400
    assert "appears twice" in response.content.decode()
    assert _names(project) == DEFAULT_CATEGORIES


def test_the_queue_list_links_to_the_taxonomy(project, members, queue):
    url = reverse("review_queue_list", kwargs={"org": project.organization.slug, "project": project.pk})

    page = client_for(members[Role.ADMIN].user).get(url).content.decode()

    assert reverse("review_taxonomy", kwargs={"org": project.organization.slug, "project": project.pk}) in page


@pytest.mark.parametrize(
    ("queue_categories", "expected"),
    [
        ([[], []], None),
        ([["billing", "tone"]], ["billing", "tone"]),
        ([["billing", "Tone"], []], ["billing", "Tone", "hallucination", "retrieval miss", "tool misuse", "policy", "other"]),
        ([["a"], ["b", "a", " "]], ["a", "b"]),
    ],
    ids=["defaults-only", "one-custom", "custom-plus-defaults", "union"],
)
def test_the_migration_merges_queue_categories_into_one_project_taxonomy(queue_categories, expected):
    taxonomy = migration.merged_taxonomy(queue_categories)

    assert (None if taxonomy is None else [c["name"] for c in taxonomy]) == expected
    if taxonomy:
        descriptions = {c["name"]: c["description"] for c in taxonomy}
        assert descriptions.get("billing", "") == ""
        assert descriptions.get("hallucination", "x") != ""
