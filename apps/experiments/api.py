"""Prompts over the session API: ``/api/v1/orgs/<org>/projects/<project>/prompts[/<prompt>[/versions|/labels]]``.

The prompt, version and label in the URL are resolved inside the URL's project before roles and
input are checked: another project's and a missing one are the same 404. Members read; reviewers
create versions and move unprotected labels; admins move protected labels and protect them.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.audit import Actor
from apps.core.errors import Conflict
from apps.core.roles import Role
from apps.experiments import diff
from apps.experiments.models import NAME_PATTERN, LABEL_PATTERN, Prompt, PromptLabel, PromptVersion
from apps.experiments.selectors import prompts as selectors
from apps.experiments.selectors.traffic import version_traffic_compared
from apps.experiments.serializers import (
    DiffOut, DiffQuery, LabelDetailOut, LabelMovedOut, LabelMoveIn, LabelOut, PromptCreateIn, PromptOut, ProtectionIn,
    TrafficComparedOut, VersionCreatedOut, VersionIn, VersionOut,
)
from apps.experiments.services import labels as label_services
from apps.experiments.services.prompts import Author, prompt_version_create
from apps.experiments.validation import LABEL_RE
from apps.projects.tenancy import ProjectScopedViewSet

ERROR = OpenApiResponse(description="Error: {code, message, field}")
VERSION_NUMBER = {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
IMMUTABLE = "Versions are immutable: create a new version instead (`version_immutable`)."


def _author(request) -> Author:
    return Author(actor=Actor.from_request(request))


def _diff_body(prompt, before, after) -> dict:
    return {
        "name": prompt.name, "from_version": before.number, "to_version": after.number,
        "sections": [{"name": s.name, "changed": s.changed, "unified": s.unified} for s in diff.version_diff(before, after)],
    }


class PromptViewSet(ProjectScopedViewSet):
    """A project's prompts: list, create (with its first version), read, diff two versions."""

    model = Prompt
    serializer_class = PromptOut
    pagination_class = None
    lookup_field = "name"
    lookup_url_kwarg = "prompt"
    lookup_value_regex = NAME_PATTERN
    required_role = {"list": Role.MEMBER, "create": Role.REVIEWER, "retrieve": Role.MEMBER, "diff": Role.MEMBER}
    token_scope = {"create": "datasets"}

    def scope_queryset(self, queryset):
        return queryset.prefetch_related("labels__version")

    @extend_schema(responses={200: PromptOut(many=True)})
    def list(self, request, org=None, project=None):
        return Response(PromptOut(selectors.prompt_list(project=self.project), many=True).data)

    @extend_schema(request=PromptCreateIn, responses={201: VersionCreatedOut, 409: ERROR},
                   description="Create a prompt with its version 1. A name in use is 409 `name_taken`.")
    def create(self, request, org=None, project=None):
        data = PromptCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        name = fields.pop("name")
        if Prompt.objects.for_project(self.project).filter(name=name).exists():
            raise Conflict(f"A prompt named {name!r} already exists: add a version to it.", code="name_taken", field="name")
        version = prompt_version_create(project=self.project, name=name, author=_author(request), **fields)
        return Response({"name": version.prompt.name, "version": version.number}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: PromptOut})
    def retrieve(self, request, org=None, project=None, prompt=None):
        return Response(PromptOut(self.object).data)

    @extend_schema(
        parameters=[OpenApiParameter("from", VERSION_NUMBER, description="Default: the version before `to`"),
                    OpenApiParameter("to", VERSION_NUMBER, description="Default: the latest version")],
        responses={200: DiffOut}, description="Text diff of the template, tools and settings of two versions.",
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, org=None, project=None, prompt=None):
        query = DiffQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        to = query.validated_data.get("to", self.object.latest_version)
        before = selectors.prompt_version_get(prompt=self.object, number=query.validated_data.get("from", max(to - 1, 1)))
        after = selectors.prompt_version_get(prompt=self.object, number=to)
        return Response(_diff_body(self.object, before, after))


class _InPrompt(ProjectScopedViewSet):
    def resolve_tenant(self, request) -> None:
        super().resolve_tenant(request)
        self.prompt = selectors.prompt_get(project=self.project, name=self.kwargs["prompt"])


class PromptVersionViewSet(_InPrompt):
    """A prompt's versions: list, read, create; an edit of any version is 409 ``version_immutable``."""

    model = PromptVersion
    serializer_class = VersionOut
    pagination_class = None
    lookup_field = "number"
    lookup_url_kwarg = "version"
    lookup_value_regex = "[0-9]{1,9}"
    required_role = {
        "list": Role.MEMBER, "retrieve": Role.MEMBER, "traffic": Role.MEMBER, "create": Role.REVIEWER,
        "update": Role.MEMBER, "partial_update": Role.MEMBER, "destroy": Role.MEMBER,
    }
    token_scope = {"create": "datasets"}

    def scope_queryset(self, queryset):
        return queryset.filter(prompt=self.prompt)

    def get_object(self):
        version = super().get_object()
        version.prompt = self.prompt
        return version

    @extend_schema(responses={200: VersionOut(many=True)})
    def list(self, request, org=None, project=None, prompt=None):
        versions = list(selectors.prompt_version_list(prompt=self.prompt))
        for version in versions:
            version.prompt = self.prompt
        return Response(VersionOut(versions, many=True).data)

    @extend_schema(responses={200: VersionOut})
    def retrieve(self, request, org=None, project=None, prompt=None, version=None):
        return Response(VersionOut(self.object).data)

    @extend_schema(request=VersionIn, responses={201: VersionCreatedOut},
                   description="Create the next version. Invalid tools are 400 `invalid_tools`.")
    def create(self, request, org=None, project=None, prompt=None):
        data = VersionIn(data=request.data)
        data.is_valid(raise_exception=True)
        version = prompt_version_create(project=self.project, name=self.prompt.name, author=_author(request), **data.validated_data)
        return Response({"name": self.prompt.name, "version": version.number}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: TrafficComparedOut},
                   description="Turns with prompt_version `<name>@<n>`, signal rates and confirmed failures since the "
                               "version first got a label, beside the previous version's.")
    @action(detail=True, methods=["get"])
    def traffic(self, request, org=None, project=None, prompt=None, version=None):
        current, previous = version_traffic_compared(version=self.object)
        return Response({"current": current.as_dict(), "previous": previous.as_dict() if previous else None})

    def _immutable(self):
        raise Conflict(IMMUTABLE.split(" (")[0] + ".", code="version_immutable")

    @extend_schema(request=None, responses={409: ERROR}, description=IMMUTABLE)
    def update(self, request, *args, **kwargs):
        self._immutable()

    @extend_schema(request=None, responses={409: ERROR}, description=IMMUTABLE)
    def partial_update(self, request, *args, **kwargs):
        self._immutable()

    @extend_schema(responses={409: ERROR}, description=IMMUTABLE)
    def destroy(self, request, *args, **kwargs):
        self._immutable()


def _moved_body(prompt, label, move) -> dict:
    return {
        "name": prompt.name, "label": label.name, "version": label.version.number,
        "previous_version": move.from_version.number if move and move.from_version else None,
        "protected": label.protected, "kind": move.kind if move else None,
    }


class PromptLabelViewSet(_InPrompt):
    """A prompt's labels: list; read with history; move (PUT, makes a new label); roll back; protect."""

    model = PromptLabel
    serializer_class = LabelOut
    pagination_class = None
    lookup_field = "name"
    lookup_url_kwarg = "label"
    lookup_value_regex = LABEL_PATTERN
    required_role = {
        "list": Role.MEMBER, "retrieve": Role.MEMBER, "update": Role.REVIEWER, "rollback": Role.REVIEWER,
        "protection": Role.ADMIN,
    }

    def scope_queryset(self, queryset):
        return queryset.filter(prompt=self.prompt).select_related("version")

    def get_object(self):
        """The label in the URL; a label that does not exist yet is None for a move (PUT makes it)."""
        name = self.kwargs["label"]
        label = self.get_queryset().filter(name=name).first() if LABEL_RE.match(name) else None
        if label is None and self.action != "update":
            raise Http404("No such label.")
        return label

    @extend_schema(responses={200: LabelOut(many=True)})
    def list(self, request, org=None, project=None, prompt=None):
        return Response(LabelOut(selectors.prompt_label_list(prompt=self.prompt), many=True).data)

    @extend_schema(responses={200: LabelDetailOut})
    def retrieve(self, request, org=None, project=None, prompt=None, label=None):
        label = self.object
        label.history = selectors.prompt_label_history(prompt=self.prompt, label=label)
        previous = selectors.prompt_label_previous_version(label=label)
        label.rollback_to = previous.number if previous else None
        return Response(LabelDetailOut(label).data)

    @extend_schema(request=LabelMoveIn, responses={200: LabelMovedOut, 409: ERROR},
                   description="Point the label at a version of this prompt (a deploy; an older version is a rollback). "
                               "A protected label moves only for admins (403 `label_protected`).")
    def update(self, request, org=None, project=None, prompt=None, label=None):
        data = LabelMoveIn(data=request.data)
        data.is_valid(raise_exception=True)
        moved, move = label_services.prompt_label_move(
            prompt=self.prompt, name=label, version=data.validated_data["version"], author=_author(request),
            role=self.membership.role,
        )
        return Response(_moved_body(self.prompt, moved, move))

    @extend_schema(request=None, responses={200: LabelMovedOut, 409: ERROR},
                   description="Move the label back to the version it pointed at before (409 `nothing_to_roll_back`).")
    @action(detail=True, methods=["post"])
    def rollback(self, request, org=None, project=None, prompt=None, label=None):
        moved, move = label_services.prompt_label_rollback(
            prompt=self.prompt, name=self.object.name, author=_author(request), role=self.membership.role,
        )
        return Response(_moved_body(self.prompt, moved, move))

    @extend_schema(request=ProtectionIn, responses={200: LabelOut}, description="Protect a label (only admins move it) or lift it.")
    @action(detail=True, methods=["put"])
    def protection(self, request, org=None, project=None, prompt=None, label=None):
        data = ProtectionIn(data=request.data)
        data.is_valid(raise_exception=True)
        updated = label_services.prompt_label_protect(label=self.object, protected=data.validated_data["protected"], author=_author(request))
        return Response(LabelOut(updated).data)
