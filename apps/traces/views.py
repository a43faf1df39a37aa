"""The capture UI: turns explorer, turn replay, session page, and children waiting for their turn.

Everything shown here was sent by an SDK and is untrusted: templates render it with Django's
autoescaping only (never ``|safe`` or ``mark_safe``), and JSON is pretty-printed to plain text
that the template escapes inside ``<pre>`` (apps/traces/presenters.py).
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.core.validators import RegexValidator
from django.http import Http404
from django.utils import timezone
from django.views.generic import TemplateView

from apps.core import hooks
from apps.core.pagination import decode_position
from apps.core.roles import Role
from apps.projects.tenancy import ProjectViewMixin
from apps.traces import presenters, selectors
from apps.traces.selectors import TurnFilters

PAGE_SIZE = 50
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:\-]{0,63}$"  # the ingestion schema's signal kind
STANDARD_SIGNALS = sorted(presenters.NEGATIVE_SIGNALS | {"thumbs_up", "rating", "sample"})
FEEDBACK_CHOICES = [
    ("", "Any (or none)"),
    ("any", "Has feedback"),
    ("up", "Thumbs up"),
    ("down", "Thumbs down"),
    ("comment", "With a comment"),
    ("correction", "With a correction"),
]


class TurnFilterForm(forms.Form):
    """The explorer's GET filters; a bad value is a form error on its field, never a 500."""

    signal = forms.CharField(
        required=False, max_length=64, validators=[RegexValidator(KIND_PATTERN, "Not a signal kind.")],
        widget=forms.Select,
    )
    feedback = forms.ChoiceField(required=False, choices=FEEDBACK_CHOICES)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To (inclusive)")
    user = forms.CharField(required=False, max_length=200, label="End user")
    session = forms.CharField(required=False, max_length=200)
    prompt_version = forms.CharField(required=False, max_length=200, label="Prompt version",
                                     widget=forms.TextInput(attrs={"list": "prompt-versions"}))
    model = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"list": "models"}))
    variant = forms.CharField(required=False, max_length=100, widget=forms.TextInput(attrs={"list": "variants"}))
    text = forms.CharField(required=False, max_length=500, label="Text in question or answer",
                           widget=forms.TextInput(attrs={"type": "search", "placeholder": "words or \"a phrase\""}))
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, signal_kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        kinds = sorted(set(signal_kinds) | set(STANDARD_SIGNALS))
        requested = self.data.get("signal", "") if self.is_bound else ""
        if requested and requested not in kinds and re.match(KIND_PATTERN, requested):
            kinds.append(requested)  # a custom kind beyond the dropdown's bound is still a valid filter
        self.fields["signal"].widget.choices = [("", "Any signal"), *[(kind, kind) for kind in kinds]]

    def clean_after(self):
        after = self.cleaned_data["after"]
        if after and decode_position(after) is None:
            raise forms.ValidationError("This page link is not valid; start again from the newest turns.")
        return after

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        for name, value in list(cleaned.items()):
            if isinstance(value, str):
                cleaned[name] = value.strip()
        return cleaned

    def filters(self) -> TurnFilters:
        data = self.cleaned_data
        zone = timezone.get_current_timezone()

        def start_of(day):
            return dt.datetime.combine(day, dt.time.min, tzinfo=zone) if day else None

        return TurnFilters(
            signal=data["signal"], feedback=data["feedback"],
            since=start_of(data["since"]),
            # The day after ``until`` (exclusive bound); the last representable day has no "after".
            until=start_of(data["until"] + dt.timedelta(days=1)) if data["until"] and data["until"] < dt.date.max else None,
            user=data["user"], session=data["session"], prompt_version=data["prompt_version"],
            model=data["model"], variant=data["variant"], text=data["text"],
        )


class TurnListView(ProjectViewMixin, TemplateView):
    """``GET …/turns/``: filterable, keyset-paginated list of turns, newest first.

    An htmx request for the next page ("Older →") gets only the rows and the next pager row.
    """

    template_name = "traces/turn_list.html"
    required_role = {"GET": Role.MEMBER}

    def get_template_names(self):
        if self.request.headers.get("HX-Request") and self.request.GET.get("after"):
            return ["traces/_turn_rows.html"]
        return [self.template_name]

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if context["form"].errors else 200)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        choices = selectors.filter_choices(project=self.project)
        # Always bound (an empty query is a valid "no filters"), so errors show on first render too.
        form = TurnFilterForm(self.request.GET, signal_kinds=choices["signal_kinds"])
        rows, next_cursor, filtered = [], None, False
        if form.is_valid():
            rows, next_cursor = selectors.turn_page(
                project=self.project, filters=form.filters(), after=form.cleaned_data["after"], size=PAGE_SIZE
            )
            filtered = any(value for name, value in form.cleaned_data.items() if name != "after")
        kinds = selectors.signal_kinds_for(project=self.project, turn_ids=[t.id for t in rows])
        next_query = ""
        if next_cursor:
            query = self.request.GET.copy()
            query["after"] = next_cursor
            next_query = query.urlencode()
        newest_query = self.request.GET.copy()
        newest_query.pop("after", None)
        context.update(
            tab="turns", form=form, choices=choices, filtered=filtered,
            rows=[{"turn": t, "signals": [(k, presenters.signal_badge_class(k)) for k in kinds.get(t.id, [])]} for t in rows],
            next_query=next_query, newest_query=newest_query.urlencode(),
            paged=bool(self.request.GET.get("after")),
        )
        return context


# ``(*, project, organization, membership, turn_id) -> {"holding": [{name, url}], "add_url"}``: the
# datasets box of the replay page; apps.datasets (a floor above) registers it at ready().
TURN_ACTIONS_HOOK = "datasets.turn_actions"
TURN_RETENTION_HOOK = "governance.turn_retention"


class TurnDetailView(ProjectViewMixin, TemplateView):
    """``GET …/turns/<turn>/``: everything that produced one answer, and what was said about it.

    A turn id that is not in this project is a 404 (foreign and missing look the same); when this
    project already holds feedback, signals or steps for that id, the 404 page says they wait.
    """

    template_name = "traces/turn_detail.html"
    required_role = {"GET": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.turn = selectors.turn_get(project=self.project, turn_id=kwargs["turn"])
        self.waiting = self.tombstone = None
        if self.turn is None and request.method in ("GET", "HEAD"):
            self.tombstone = selectors.tombstones_for(project=self.project, turn_ids=[kwargs["turn"]]).get(kwargs["turn"])
        if self.turn is None and self.tombstone is None:
            waiting = selectors.waiting_for_turn(project=self.project, turn_id=kwargs["turn"])
            if not any(waiting.values()) or request.method not in ("GET", "HEAD"):
                raise Http404("No such turn.")
            self.waiting = waiting

    def get(self, request, *args, **kwargs):
        if self.tombstone is not None:
            context = self.get_context_data(tab="turns", turn_id=kwargs["turn"], tombstone=self.tombstone)
            return self.response_class(request=request, template=["traces/turn_deleted.html"], context=context,
                                       using=self.template_engine, status=404)
        if self.turn is None:
            context = self.get_context_data(tab="turns", turn_id=kwargs["turn"], waiting=self.waiting)
            return self.response_class(request=request, template=["traces/turn_waiting.html"], context=context,
                                       using=self.template_engine, status=404)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.turn is None:
            return context
        turn = self.turn
        children = selectors.turn_children(project=self.project, turn_id=turn.id)
        context.update(tab="turns", turn=turn, **presenters.turn_replay(turn=turn, children=children))
        context["dataset_actions"] = hooks.call(
            TURN_ACTIONS_HOOK, project=self.project, organization=self.organization, membership=self.membership, turn_id=turn.id,
        )
        context["retention"] = hooks.call(TURN_RETENTION_HOOK, project=self.project, turn=turn)
        return context


class SessionDetailView(ProjectViewMixin, TemplateView):
    """``GET …/sessions/?id=<session id>``: a conversation's turns in order.

    Without ``id`` the page asks for one; an empty or over-long ``id`` is a 400 that says why;
    a session with no turns in this project is a 404.
    """

    template_name = "traces/session_detail.html"
    required_role = {"GET": Role.MEMBER}

    def get(self, request, *args, **kwargs):
        status, error, session_id = 200, "", None
        if "id" in request.GET:
            session_id = request.GET["id"].strip()
            if not session_id:
                status, error = 400, "The session id is empty: give the id your agent sent as session_id."
            elif len(session_id) > 200 or "\x00" in session_id:
                status, error = 400, "That is not a session id: session ids are at most 200 characters."
        turns, rows = [], []
        if session_id and not error:
            turns = selectors.session_turns(project=self.project, session_id=session_id)
            if not turns:
                status = 404
            ids = [t.id for t in turns]
            kinds = selectors.signal_kinds_for(project=self.project, turn_ids=ids)
            feedback = selectors.feedback_summary_for(project=self.project, turn_ids=ids)
            rows = [
                {"turn": t, "signals": [(k, presenters.signal_badge_class(k)) for k in kinds.get(t.id, [])],
                 "feedback": feedback.get(t.id)}
                for t in turns
            ]
        context = self.get_context_data(
            tab="turns", session_id=session_id if not error else "", error=error, rows=rows,
            users=sorted({t.end_user_id for t in turns if t.end_user_id}),
        )
        return self.render_to_response(context, status=status)


class WaitingListView(ProjectViewMixin, TemplateView):
    """``GET …/waiting/``: feedback, signals and steps stored before their turn arrived."""

    template_name = "traces/waiting_list.html"
    required_role = {"GET": Role.MEMBER}
    limit = 200

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        items = selectors.waiting_items(project=self.project, limit=self.limit)
        context.update(
            tab="waiting", limit=self.limit, counts=selectors.waiting_counts(project=self.project),
            feedback=items["feedback"],
            signals=[{"signal": s, "value": presenters.compact(s.value)} for s in items["signals"]],
            steps=items["steps"],
        )
        return context



class ProjectCountsView(ProjectViewMixin, TemplateView):
    """``GET …/capture-counts/``: the overview's numbers, as a fragment the overview loads with htmx.

    Loaded after the page because counting is the one read here that grows with the project
    (waiting children are an anti-join over every child row): ~1 s at a million turns.
    """

    template_name = "traces/_project_counts.html"
    required_role = {"GET": Role.MEMBER}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context.update(counts=selectors.project_capture_counts(project=self.project, now=now),
                       since=(now - dt.timedelta(hours=24)).date())
        return context
