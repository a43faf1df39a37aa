"""Review queue pages: the list, queue admin (settings, open items and their assignment), the
project's failure taxonomy, and the keyboard-first review page.

Every queue named in the URL is resolved in ``resolve_tenant``: another project's queue, a
missing one and (for a non-admin) a queue the member is not assigned to are the same 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.core import hooks
from apps.core.errors import ServiceError
from apps.core.permissions import object_permission_user_ids
from apps.core.roles import Role
from apps.core.views import service_error_to_form
from apps.projects.tenancy import ProjectViewMixin
from apps.core.audit import Actor
from apps.organizations.selectors import membership_list
from apps.review import selectors
from apps.review.forms import AssignForm, DecisionForm, QueueForm, TaxonomyForm
from apps.review.models import OPEN_STATES, WORK_PERMISSION, ItemState
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.traces import presenters
from apps.traces import selectors as trace_selectors


# The review page's "add to dataset" (apps.datasets, a floor above, registers both at ready()):
# ``(*, project, queue, user, session) -> dict`` the choice to show, remembered per reviewer and
# queue; ``(*, request, decision, queue, dataset_id, split) -> str`` applies it after a decision.
REVIEW_PANEL_HOOK = "datasets.review_panel"
REVIEW_DECIDED_HOOK = "datasets.review_decided"


class QueueViewMixin(ProjectViewMixin):
    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.queue = selectors.review_queue_get_visible(
            project=self.project, membership=self.membership, queue_id=kwargs["queue"]
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(tab="queues", queue=self.queue)
        return context


def _queue_form(view, data=None, queue=None):
    memberships = list(membership_list(organization=view.organization))
    queues = [q for q in selectors.review_queue_list(project=view.project) if queue is None or q.pk != queue.pk]
    initial = {}
    if queue is not None:
        granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
        initial = {
            "name": queue.name, "description": queue.description, "lease_seconds": queue.lease_seconds,
            "signal_kinds": ", ".join(queue.signal_kinds), "any_turn": queue.any_turn, "priority": queue.priority,
            "sample_percent": queue.sample_percent, "escalate_to": queue.escalate_to_id,
            "reviewers_per_item": queue.reviewers_per_item, "blind": queue.blind,
            "member_ids": [m.pk for m in memberships if m.user_id in granted],
        }
    return QueueForm(data, queues=queues, memberships=memberships, initial=initial), memberships, queues


def _sync_reviewers(*, queue, memberships, wanted_ids, actor) -> None:
    granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
    for membership in memberships:
        if membership.pk in wanted_ids and membership.user_id not in granted:
            queue_services.review_queue_assign(queue=queue, membership=membership, actor=actor)
        elif membership.pk not in wanted_ids and membership.user_id in granted:
            queue_services.review_queue_unassign(queue=queue, membership=membership, actor=actor)


class QueueListView(ProjectViewMixin, TemplateView):
    """``…/queues/``: the queues this member works (all of them for admins); admins create here."""

    template_name = "review/queue_list.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.ADMIN}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        queues = selectors.review_queue_list_visible(project=self.project, membership=self.membership)
        progress = selectors.review_queue_progress(project=self.project, queues=queues)
        agreement = selectors.review_queue_agreement(project=self.project, queues=queues)
        context.update(
            tab="queues", rows=[{"queue": q, **progress[q.pk], "agreement": agreement[q.pk]} for q in queues],
        )
        if self.is_admin:
            context.setdefault("form", _queue_form(self)[0])
        return context

    def post(self, request, org, project):
        form, memberships, queues = _queue_form(self, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            actor = Actor.from_request(request)
            try:
                queue = queue_services.review_queue_create(
                    project=self.project, actor=actor, name=data["name"], description=data["description"],
                    lease_seconds=data["lease_seconds"], routing=form.routing(),
                    reviewers_per_item=data["reviewers_per_item"], blind=data["blind"],
                    escalate_to=next((q for q in queues if q.pk == data["escalate_to"]), None),
                )
                _sync_reviewers(queue=queue, memberships=memberships, wanted_ids=set(data["member_ids"]), actor=actor)
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, f"Queue “{queue.name}” created.")
                return redirect("review_queue_list", org=org, project=project)
        return self.render_to_response(self.get_context_data(form=form), status=400)


ITEMS_PER_PAGE = 25


class QueueSettingsView(QueueViewMixin, TemplateView):
    """``…/queues/<queue>/``: routing rules, lease, reviewers per item and reviewers (admins),
    progress and agreement, and the open items with who they are assigned to (``?page=``)."""

    template_name = "review/queue_settings.html"
    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", _queue_form(self, queue=self.queue)[0])
        context["progress"] = selectors.review_queue_progress(project=self.project, queues=[self.queue])[self.queue.pk]
        context["agreement"] = selectors.review_queue_agreement(project=self.project, queues=[self.queue])[self.queue.pk]
        context["reviewers"] = selectors.review_reviewer_progress(queue=self.queue)
        open_items = selectors.review_item_list(queue=self.queue, states=[*OPEN_STATES, ItemState.DISPUTED])
        page = Paginator(open_items, ITEMS_PER_PAGE).get_page(self.request.GET.get("page"))
        previews = selectors.review_turn_previews(project=self.project, turn_ids=[item.turn_id for item in page])
        tombstones = trace_selectors.tombstones_for(project=self.project, turn_ids=[i.turn_id for i in page if i.turn_id not in previews])
        assignable = selectors.review_queue_reviewers(queue=self.queue)
        context.update(
            items_page=page, assignable=assignable,
            item_rows=[
                {"item": item, "preview": previews.get(item.turn_id), "tombstone": tombstones.get(item.turn_id),
                 "form": AssignForm(reviewers=assignable, initial={"member": _membership_pk(assignable, item.assigned_to_id)})}
                for item in page
            ],
        )
        return context

    def post(self, request, org, project, queue):
        if "delete" in request.POST:
            queue_services.review_queue_delete(queue=self.queue, actor=Actor.from_request(request))
            messages.success(request, "Queue deleted.")
            return redirect("review_queue_list", org=org, project=project)
        form, memberships, queues = _queue_form(self, request.POST, queue=self.queue)
        if form.is_valid():
            data = form.cleaned_data
            actor = Actor.from_request(request)
            try:
                queue_services.review_queue_update(
                    queue=self.queue, actor=actor, name=data["name"], description=data["description"],
                    lease_seconds=data["lease_seconds"], routing=form.routing(),
                    reviewers_per_item=data["reviewers_per_item"], blind=data["blind"],
                    escalate_to=next((q for q in queues if q.pk == data["escalate_to"]), None),
                )
                _sync_reviewers(queue=self.queue, memberships=memberships, wanted_ids=set(data["member_ids"]), actor=actor)
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, "Queue saved.")
                return redirect("review_queue_settings", org=org, project=project, queue=queue)
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _membership_pk(memberships, user_id):
    return next((m.pk for m in memberships if m.user_id == user_id), None)


class QueueItemAssignView(QueueViewMixin, View):
    """``POST …/queues/<queue>/items/<item>/assign/`` (admins): reserve an open item for one of the
    queue's reviewers, or release it to anyone (empty ``member``); back to the queue page."""

    required_role = {"POST": Role.ADMIN}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.item = selectors.review_item_get(queue=self.queue, item_id=kwargs["item"])

    def post(self, request, org, project, queue, item):
        assignable = selectors.review_queue_reviewers(queue=self.queue)
        form = AssignForm(request.POST, reviewers=assignable)
        back = reverse("review_queue_settings", kwargs={"org": org, "project": project, "queue": queue})
        page = request.POST.get("page", "")
        if page.isdigit():
            back += f"?page={page}"
        if not form.is_valid():
            messages.error(request, "Choose one of this queue's reviewers.")
            return redirect(back)
        membership = next((m for m in assignable if m.pk == form.cleaned_data["member"]), None)
        try:
            self.item = item_services.review_item_assign(item=self.item, membership=membership, actor=Actor.from_request(request))
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            who = membership.user.email if membership else "anyone"
            messages.success(request, f"Turn {self.item.turn_id} is now for {who}.")
        return redirect(back)


class TaxonomyView(ProjectViewMixin, TemplateView):
    """``…/taxonomy/``: the project's failure categories; members read, admins edit (audited)."""

    template_name = "review/taxonomy.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.ADMIN}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        categories = selectors.taxonomy_get(project=self.project)
        context.update(tab="queues", categories=categories)
        if self.is_admin:
            context.setdefault("form", TaxonomyForm(initial={"categories": TaxonomyForm.as_text(categories)}))
        return context

    def post(self, request, org, project):
        form = TaxonomyForm(request.POST)
        if form.is_valid():
            try:
                queue_services.taxonomy_update(
                    project=self.project, actor=Actor.from_request(request), categories=form.cleaned_data["categories"]
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, "Failure taxonomy saved.")
                return redirect("review_taxonomy", org=org, project=project)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ReviewView(QueueViewMixin, TemplateView):
    """``…/queues/<queue>/review/``: the item this reviewer holds (claiming the next one if none),
    shown with the turn replay, and the decision form. Keyboard: see templates/review/review.html."""

    template_name = "review/review.html"
    required_role = {"GET": Role.REVIEWER, "POST": Role.REVIEWER}

    def get(self, request, *args, **kwargs):
        self.item = item_services.review_item_claim_next(queue=self.queue, reviewer=request.user)
        return self.render_to_response(self.get_context_data())

    @property
    def categories(self) -> list[dict]:
        if not hasattr(self, "_categories"):
            self._categories = selectors.taxonomy_get(project=self.project)
        return self._categories

    def _form(self, data=None):
        initial = {"item": self.item.pk, "verdict": "confirm"} if getattr(self, "item", None) else {}
        return DecisionForm(data, categories=[c["name"] for c in self.categories], initial=initial)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        item = getattr(self, "item", None)
        context.update(item=item, categories=self.categories)
        context.setdefault("form", self._form())
        if item is not None:
            # Blind queues: no earlier verdicts while the item is open (the API hides them the same way).
            if selectors.review_decisions_visible(queue=self.queue, item=item):
                context["earlier_decisions"] = selectors.review_decision_list(item=item)
            context["vote_number"] = len(item.decided_by) + 1
            turn = trace_selectors.turn_get(project=self.project, turn_id=item.turn_id)
            context["turn"] = turn
            if turn is not None:
                context.update(_replay_context(turn, self.project))
            else:
                context["tombstone"] = trace_selectors.tombstones_for(project=self.project, turn_ids=[item.turn_id]).get(item.turn_id)
        context["progress"] = selectors.review_queue_progress(project=self.project, queues=[self.queue])[self.queue.pk]
        context["dataset_panel"] = hooks.call(
            REVIEW_PANEL_HOOK, project=self.project, queue=self.queue, user=self.request.user, session=self.request.session,
        )
        return context

    def post(self, request, org, project, queue):
        self.item = None
        form = self._form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            item = selectors.review_item_get(queue=self.queue, item_id=data["item"])
            try:
                decision = item_services.review_item_decide(
                    item=item, reviewer=request.user, verdict=data["verdict"], category=data["category"],
                    correction=data["correction"], notes=data["notes"], ip_address=Actor.from_request(request).ip_address,
                )
            except ServiceError as error:
                self.item = item
                service_error_to_form(form, error)
            else:
                try:
                    note = hooks.call(
                        REVIEW_DECIDED_HOOK, request=request, decision=decision, queue=self.queue,
                        dataset_id=request.POST.get("dataset", ""), split=request.POST.get("dataset_split", ""),
                    )
                except ServiceError as error:  # the decision stands; only the dataset step was refused
                    messages.error(request, f"Decision saved; not added to the dataset: {error.message}")
                else:
                    if note:
                        messages.success(request, note)
                return redirect("review_queue_review", org=org, project=project, queue=queue)
        else:
            self.item = selectors.review_item_current(queue=self.queue, reviewer=request.user)
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _replay_context(turn, project) -> dict:
    """The turn replay's content (conversation, steps, documents, tools, signals, feedback)."""
    children = trace_selectors.turn_children(project=project, turn_id=turn.id)
    return presenters.turn_replay(turn=turn, children=children)
