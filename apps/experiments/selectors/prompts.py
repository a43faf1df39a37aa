"""Reads of prompts, versions, labels and label history; the resolved answer agents fetch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db.models import Prefetch

from apps.core.errors import NotFound
from apps.experiments import cache
from apps.experiments.models import Prompt, PromptLabel, PromptLabelMove, PromptVersion
from apps.experiments.validation import LABEL_RE, NAME_RE


def prompt_version_reference(name: str, number: int) -> str:
    """What a turn sends as ``prompt_version`` for this version: ``<name>@<n>`` (README, "Prompts")."""
    return f"{name}@{number}"


def prompt_list(*, project):
    labels = PromptLabel.objects.for_project(project).select_related("version").order_by("name")
    return (
        Prompt.objects.for_project(project).order_by("name")
        .prefetch_related(Prefetch("labels", queryset=labels))
    )


def prompt_get(*, project, name: str) -> Prompt:
    """The project's prompt of that name; a foreign or malformed name is the same 404."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise NotFound("No such prompt.")
    prompt = Prompt.objects.for_project(project).filter(name=name).first()
    if prompt is None:
        raise NotFound("No such prompt.")
    return prompt


def prompt_version_list(*, prompt):
    return PromptVersion.objects.for_project(prompt.project_id).filter(prompt=prompt).order_by("-number")


def prompt_version_get(*, prompt, number) -> PromptVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise NotFound("No such version.") from None
    version = PromptVersion.objects.for_project(prompt.project_id).filter(prompt=prompt, number=number).first()
    if version is None:
        raise NotFound(f"{prompt.name} has no version {number}.")
    version.prompt = prompt
    return version


def prompt_label_list(*, prompt) -> list[PromptLabel]:
    return list(PromptLabel.objects.for_project(prompt.project_id).filter(prompt=prompt).select_related("version").order_by("name"))


def prompt_label_get(*, prompt, name: str) -> PromptLabel:
    if not isinstance(name, str) or not LABEL_RE.match(name):
        raise NotFound("No such label.")
    label = PromptLabel.objects.for_project(prompt.project_id).filter(prompt=prompt, name=name).select_related("version").first()
    if label is None:
        raise NotFound(f"{prompt.name} has no label {name!r}.")
    return label


def prompt_label_history(*, prompt, label: PromptLabel | None = None, limit: int = 100) -> list[PromptLabelMove]:
    moves = PromptLabelMove.objects.for_project(prompt.project_id).filter(prompt=prompt)
    if label is not None:
        moves = moves.filter(label=label)
    return list(moves.select_related("label", "from_version", "to_version").order_by("-moved_at", "-id")[:limit])


def prompt_label_previous_version(*, label: PromptLabel) -> PromptVersion | None:
    """Where a rollback takes the label: the version it pointed at before its current one."""
    move = (
        PromptLabelMove.objects.for_project(label.project_id).filter(label=label, to_version_id=label.version_id)
        .exclude(from_version=None).select_related("from_version").order_by("-moved_at", "-id").first()
    )
    return move.from_version if move else None


def prompt_version_labelled_at(*, version: PromptVersion) -> dict:
    """label name → when that label first pointed at this version (its current run on it)."""
    first: dict = {}
    moves = (
        PromptLabelMove.objects.for_project(version.project_id).filter(to_version=version)
        .select_related("label").order_by("moved_at")
    )
    for move in moves:
        first.setdefault(move.label.name, move.moved_at)
    return first


# --- the answer agents fetch ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    etag: str  # strong: a quoted hash of the body
    body: bytes  # the JSON answer


def _payload(prompt: Prompt, version: PromptVersion) -> dict:
    labels = sorted(PromptLabel.objects.for_project(prompt.project_id).filter(version=version).values_list("name", flat=True))
    return {
        "name": prompt.name,
        "version": version.number,
        "labels": labels,
        "template": version.template,
        "variables": version.variables,
        "tools": version.tools,
        "settings": version.settings,
        "message": version.message,
        "created_at": version.created_at.isoformat().replace("+00:00", "Z"),
    }


def _resolve_from_database(*, project, name: str, label: str | None, number: int | None) -> Resolved:
    prompt = prompt_get(project=project, name=name)
    if label is not None:
        version = prompt_label_get(prompt=prompt, name=label).version
    elif number is not None:
        version = prompt_version_get(prompt=prompt, number=number)
    else:
        version = PromptVersion.objects.for_project(project).filter(prompt=prompt).order_by("-number").first()
        if version is None:
            raise NotFound(f"{name} has no versions yet.")
    body = json.dumps(_payload(prompt, version), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Resolved(etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"', body=body)


def prompt_resolve(*, project, name: str, label: str | None = None, number: int | None = None) -> Resolved:
    """The version a label (or a number, or the latest) names, as agents receive it; cached in
    Redis per (project, name, label|version) and invalidated by writes (apps.experiments.cache)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise NotFound("No such prompt.")
    selector = f"l:{label}" if label is not None else (f"v:{number}" if number is not None else "latest")
    generation, hit = cache.get(project.pk, name, selector)
    if hit is not None:
        return Resolved(etag=hit[0], body=hit[1])
    resolved = _resolve_from_database(project=project, name=name, label=label, number=number)
    cache.put(project.pk, name, selector, generation, resolved.etag, resolved.body)
    return resolved
