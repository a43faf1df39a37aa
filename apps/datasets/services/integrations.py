"""Where review, the turn replay and the problem pages reach datasets: hooks registered at
``DatasetsConfig.ready()`` (those floors are below this one and never import it).

- ``datasets.decision_final(decision=…)``: review calls it inside the decision's transaction when
  an item's outcome becomes *confirmed*; the queue's auto-add rule (if any) copies the turn into
  its dataset and split when the confirmation carries a correction. Idempotent (one case per
  turn), so a repeated call adds nothing.
- ``datasets.review_panel(project, queue, user)`` / ``datasets.review_decided(…)``: the review
  page's "add to dataset" choice, remembered per reviewer per queue.
- ``datasets.turn_actions`` / ``datasets.problem_actions``: links for the replay and problem pages.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import ServiceError, ValidationFailed
from apps.core.roles import Role, role_at_least
from apps.datasets.cases import split_clean
from apps.datasets.models import AutoAddRule, Dataset, ReviewerChoice
from apps.datasets.selectors.datasets import auto_add_rule_for_queue, dataset_list, datasets_with_turn
from apps.datasets.services.changes import Author
from apps.datasets.services.turns import cases_add_from_turns
from apps.review.models import Decision, Verdict

logger = logging.getLogger(__name__)
LAST_DECISION_KEY = "datasets:last-confirmed:{queue}"


def decision_final(*, decision: Decision) -> None:
    """Apply the queue's auto-add rule to a final confirmation (see the module docstring)."""
    rule = auto_add_rule_for_queue(project=decision.project_id, queue_id=decision.queue_id)
    if rule is None or rule.dataset.archived:
        return
    confirming = (
        Decision.objects.for_project(decision.project_id).filter(item_id=decision.item_id, verdict=Verdict.CONFIRM)
        .exclude(correction="").order_by("-created_at", "-id").first()
    )
    if confirming is None:
        return  # confirmed without a correction: nothing to learn as an expected output
    turn_id = decision.item.turn_id
    try:
        with transaction.atomic():
            cases_add_from_turns(
                dataset=rule.dataset, author=Author(user=None, label=f"auto-add from queue {rule.queue.name}"),
                turn_ids=[turn_id], split=rule.split, decision_ids={turn_id: confirming.pk},
                message=f"Auto-added a confirmed failure from queue “{rule.queue.name}”",
            )
    except ServiceError:
        logger.warning("datasets auto-add of turn %s to dataset %s refused", turn_id, rule.dataset_id, exc_info=True)


def review_panel(*, project, queue, user, session) -> dict:
    """The review page's dataset choice: the project's open datasets and this reviewer's last one,
    and the turn this reviewer last confirmed here without adding it (the ``a`` key adds it)."""
    choice = ReviewerChoice.objects.for_project(project).filter(user=user, queue=queue).first()
    datasets = list(dataset_list(project=project, include_archived=False).values_list("pk", "name"))
    last_turn = session.get(LAST_DECISION_KEY.format(queue=queue.pk)) if datasets else None
    return {
        "last_turn": last_turn,
        "add_url": reverse("dataset_add_turns", kwargs={"org": project.organization.slug, "project": project.pk}),
        "datasets": datasets,
        "chosen": choice.dataset_id if choice else None,
        "split": choice.split if choice else "",
        "rule": auto_add_rule_for_queue(project=project, queue_id=queue.pk),
    }


@transaction.atomic
def review_decided(*, request, decision: Decision, queue, dataset_id: str, split: str) -> str:
    """After a decision on the review page: remember the reviewer's dataset choice for this queue
    and, on a confirm with a dataset chosen, add the turn (with this decision's correction)."""
    project, user = decision.project, request.user
    errors: list = []
    split = split_clean(split, errors)
    if errors:
        raise ValidationFailed(f"The split {errors[0][1]}.", field="split")
    dataset = None
    if dataset_id:
        dataset = dataset_list(project=project, include_archived=False).filter(pk=dataset_id if str(dataset_id).isdigit() else 0).first()
        if dataset is None:
            raise ValidationFailed("No such dataset in this project.", field="dataset")
    ReviewerChoice.objects.for_project(project).update_or_create(
        project=project, user=user, queue=queue, defaults={"dataset": dataset, "split": split, "updated_at": timezone.now()},
    )
    if decision.verdict != Verdict.CONFIRM:
        return ""
    key = LAST_DECISION_KEY.format(queue=queue.pk)
    if dataset is None:
        request.session[key] = str(decision.item.turn_id)
        return ""
    request.session.pop(key, None)
    result, outcomes = cases_add_from_turns(
        dataset=dataset, author=Author.of_user(user), turn_ids=[decision.item.turn_id], split=split,
        decision_ids={decision.item.turn_id: decision.pk}, message=f"Added from review in queue “{queue.name}”",
    )
    if outcomes[0]["status"] == 200:
        return f"The turn is already a case of “{dataset.name}”."
    return f"Added to “{dataset.name}” as version {result.number}."


@transaction.atomic
def auto_add_set(*, dataset: Dataset, queue, split: str, enabled: bool, actor: Actor) -> AutoAddRule | None:
    """Set (or clear) the queue's rule: every confirmed decision with a correction goes to
    ``dataset`` in ``split``. A queue has at most one rule; setting it moves it here. Audited."""
    errors: list = []
    split = split_clean(split, errors)
    if errors:
        raise ValidationFailed(f"The split {errors[0][1]}.", field="split")
    current = AutoAddRule.objects.for_project(dataset.project_id).select_for_update().filter(queue=queue).first()
    before = {"dataset": current.dataset_id, "split": current.split} if current else None
    if not enabled:
        if current is None or current.dataset_id != dataset.pk:
            return None
        current.delete()
        rule, after = None, None
    else:
        rule = current or AutoAddRule(project_id=dataset.project_id, queue=queue)
        rule.dataset, rule.split = dataset, split
        rule.created_by = actor.user if getattr(actor.user, "pk", None) else None
        rule.save()
        after = {"dataset": dataset.pk, "split": split}
    if before != after:
        audit_record(
            organization=dataset.project.organization, actor=actor, action=AuditAction.DATASET_AUTO_ADD,
            target_type="review_queue", target_id=queue.pk, target_label=queue.name, before=before, after=after,
        )
    return rule


def turn_actions(*, project, organization, membership, turn_id) -> dict:
    """The replay page's dataset box: datasets holding this turn and the add link (reviewers)."""
    holding = datasets_with_turn(project=project, turn_id=turn_id)
    base = {"org": organization.slug, "project": project.pk}
    return {
        "holding": [
            {"name": dataset.name, "url": reverse("dataset_case", kwargs={**base, "dataset": dataset.pk, "case": case_id})}
            for dataset, case_id in holding
        ],
        "add_url": (reverse("dataset_add_turns", kwargs=base) + f"?turn={turn_id}")
        if role_at_least(membership.role, Role.REVIEWER) else None,
    }


def problem_actions(*, project, organization, membership, problem) -> dict:
    base = {"org": organization.slug, "project": project.pk}
    return {
        "add_url": (reverse("dataset_add_turns", kwargs=base) + f"?problem={problem.pk}")
        if role_at_least(membership.role, Role.REVIEWER) else None,
    }
