"""A project's PII redaction settings: the admin's write (audited), the reads, and the compiled
redactor that ingestion asks for on every batch.

The settings live here, below capture (apps.traces) and the widget (apps.feedback), so both
reach them; the engine itself is apps.core.redaction.

The hot path (``redactor_for``): one primary-key read of the project's settings ``version``
per batch (a fraction of a millisecond, no Redis), then a per-process dictionary of compiled
redactors keyed by (project, version). A save bumps the version in its transaction, so the
next batch of every process after the commit compiles the new settings: there is no stale
window to reason about, and no cache to invalidate.
"""

from __future__ import annotations

import logging
import secrets
import threading

from django.db import transaction
from django.db.models import F

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import ValidationFailed
from apps.core.redaction import KINDS, MAX_PATTERNS, Counts, PatternError, Redactor, validate_pattern
from apps.core.sealing import Unsealable
from apps.core.sql import tenant_sql
from apps.core.text import InvalidText, clean_text
from apps.projects.models import PlaceholderStyle, Project, RedactionSettings

logger = logging.getLogger(__name__)

_VERSION_SQL = "SELECT version FROM projects_redactionsettings WHERE project_id = %(project_id)s"
_COMPILED: dict[tuple, Redactor | None] = {}
_COMPILED_MAX = 512
_LOCK = threading.Lock()


def redaction_settings_get(*, project: Project) -> RedactionSettings | None:
    return RedactionSettings.objects.for_project(project).first()


def redaction_settings_as_dict(settings: RedactionSettings | None) -> dict:
    """The settings as the page, the API and the audit rows show them (never the hash key)."""
    if settings is None:
        return {"kinds": [], "placeholder_style": PlaceholderStyle.PLAIN, "patterns": [], "version": 0}
    return {
        "kinds": list(settings.kinds), "placeholder_style": settings.placeholder_style,
        "patterns": list(settings.patterns), "version": settings.version,
    }


def _validated(kinds, placeholder_style, patterns) -> tuple[list[str], str, list[dict]]:
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise ValidationFailed("kinds is a list of recogniser names.", field="kinds")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValidationFailed(f"Unknown recogniser(s): {unknown}; known: {list(KINDS)}.", code="unknown_kind", field="kinds")
    if placeholder_style not in PlaceholderStyle.values:
        raise ValidationFailed(f"placeholder_style is one of {PlaceholderStyle.values}.", field="placeholder_style")
    if not isinstance(patterns, list) or len(patterns) > MAX_PATTERNS:
        raise ValidationFailed(f"patterns is a list of at most {MAX_PATTERNS}.", code="too_many_patterns", field="patterns")
    cleaned, names = [], set()
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, dict) or set(pattern) != {"name", "regex"}:
            raise ValidationFailed('Each pattern is {"name", "regex"}.', field=f"patterns[{index}]")
        name, source = pattern["name"], pattern["regex"]
        try:
            if isinstance(source, str) and (clean_text(source) != source):
                raise InvalidText("a pattern cannot contain NUL")
            validate_pattern(name, source)
        except InvalidText as error:
            raise ValidationFailed(str(error), code="invalid_unicode", field=f"patterns[{index}].regex") from None
        except PatternError as error:
            field = "name" if error.code == "invalid_name" else "regex"
            raise ValidationFailed(f"{name!r}: {error}", code=error.code, field=f"patterns[{index}].{field}") from None
        if name.lower() in names or name.lower() in KINDS or name == "timeout":
            raise ValidationFailed(f"Pattern name {name!r} is taken.", code="duplicate_name", field=f"patterns[{index}].name")
        names.add(name.lower())
        cleaned.append({"name": name, "regex": source})
    return sorted(set(kinds), key=KINDS.index), placeholder_style, cleaned


@transaction.atomic
def redaction_settings_save(*, project: Project, kinds: list, placeholder_style: str, patterns: list,
                            actor: Actor) -> RedactionSettings:
    """Replace the project's redaction settings (admins). Every pattern is checked first
    (``validate_pattern``: compiles, does not match the empty string, does not time out on
    the probes); a refusal changes nothing. Audited with before/after."""
    kinds, placeholder_style, patterns = _validated(kinds, placeholder_style, patterns)
    current = RedactionSettings.objects.for_project(project).select_for_update().first()
    before = redaction_settings_as_dict(current)
    if current is None:
        current = RedactionSettings.objects.create(
            project=project, kinds=kinds, placeholder_style=placeholder_style, patterns=patterns,
            hash_key=RedactionSettings.sealed_hash_key(project.pk, secrets.token_bytes(32)), updated_by=actor.user,
        )
    else:
        current.kinds, current.placeholder_style, current.patterns = kinds, placeholder_style, patterns
        current.version = F("version") + 1
        current.updated_by = actor.user
        current.save(update_fields=["kinds", "placeholder_style", "patterns", "version", "updated_by", "updated_at"])
        current.refresh_from_db(fields=["version"])
    after = redaction_settings_as_dict(current)
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.REDACTION_CHANGED,
        target_type="project", target_id=project.pk, target_label=project.name,
        before={key: value for key, value in before.items() if key != "version"},
        after={key: value for key, value in after.items() if key != "version"},
    )
    return current


def redactor_build(*, project: Project, kinds, placeholder_style, patterns, hash_key: bytes | None = None) -> Redactor:
    """A redactor from settings values (saved ones, or a form's, for the "test your settings" box).
    The keyed style without a saved key (nothing saved yet) previews under a throwaway key."""
    kinds, placeholder_style, patterns = _validated(kinds, placeholder_style, patterns)
    if placeholder_style == PlaceholderStyle.KEYED and hash_key is None:
        hash_key = secrets.token_bytes(32)
    return Redactor(kinds=kinds, hash_key=hash_key if placeholder_style == PlaceholderStyle.KEYED else None,
                    patterns=[(p["name"], p["regex"]) for p in patterns])


def redaction_test(*, project: Project, text: str, kinds, placeholder_style, patterns) -> tuple[str, dict]:
    """What ``text`` would be stored as under these (possibly unsaved) settings; stores nothing.
    Keyed placeholders use the project's saved key when there is one, so they match the turns'."""
    saved = redaction_settings_get(project=project)
    hash_key = None
    if saved is not None:
        try:
            hash_key = saved.unsealed_hash_key()
        except Unsealable:
            hash_key = None
    redactor = redactor_build(project=project, kinds=kinds, placeholder_style=placeholder_style, patterns=patterns,
                              hash_key=hash_key)
    counts = Counts()
    return redactor.text(text, counts), counts.as_dict()


def _compile(project: Project, settings: RedactionSettings) -> Redactor | None:
    hash_key = None
    if settings.placeholder_style == PlaceholderStyle.KEYED:
        try:
            hash_key = settings.unsealed_hash_key()
        except Unsealable:
            # Still redact; placeholders lose their hash until an admin saves the settings again.
            logger.error("redaction hash key of project %s does not unseal; using plain placeholders", project.pk)
    try:
        redactor = Redactor(kinds=settings.kinds, hash_key=hash_key,
                            patterns=[(p["name"], p["regex"]) for p in settings.patterns])
    except PatternError:
        logger.exception("redaction pattern of project %s no longer compiles; built-in recognisers only", project.pk)
        redactor = Redactor(kinds=settings.kinds, hash_key=hash_key)
    return redactor if redactor.active else None


def redactor_for(project: Project) -> Redactor | None:
    """The project's compiled redactor for ingestion, or None when redaction is off."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    if row is None:
        return None
    key = (project.pk, row[0])
    try:
        return _COMPILED[key]
    except KeyError:
        pass
    settings = redaction_settings_get(project=project)
    if settings is None:
        return None
    redactor = _compile(project, settings)
    with _LOCK:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[(project.pk, settings.version)] = redactor
    return redactor
