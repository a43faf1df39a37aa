"""Detector settings and customer rules: validated, audited writes."""

from __future__ import annotations

from django.db import transaction

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import NotFound, ValidationFailed
from apps.core.text import required_name
from apps.detection.config import DETECTORS, validate_params
from apps.detection.models import DetectionRule, DetectorSettings
from apps.detection.rules.parser import RuleSyntaxError, parse


def _settings_snapshot(row: DetectorSettings | None) -> dict:
    return {"enabled": row.enabled, "params": row.params} if row else {"enabled": True, "params": {}}


@transaction.atomic
def detector_settings_update(*, project, detector: str, enabled: bool, params: dict, actor: Actor) -> DetectorSettings:
    """Set one detector's switch and parameter overrides (validated); audited."""
    cleaned = validate_params(detector, params)
    defaults = DETECTORS[detector][1]
    overrides = {key: value for key, value in cleaned.items() if value != defaults[key]}
    row = DetectorSettings.objects.for_project(project).select_for_update().filter(detector=detector).first()
    before = _settings_snapshot(row)
    if row is None:
        row = DetectorSettings(project=project, detector=detector)
    row.enabled, row.params = bool(enabled), overrides
    row.save()
    after = _settings_snapshot(row)
    if after != before:
        audit_record(
            organization=project.organization, actor=actor, action=AuditAction.DETECTOR_CHANGED,
            target_type="detector", target_id=f"{project.pk}:{detector}", target_label=f"{project.name} · {detector}",
            before=before, after=after,
        )
    return row


@transaction.atomic
def detection_rule_create(*, project, name: str, expression: str, signal_kind: str, actor: Actor) -> DetectionRule:
    """Parse and store a customer rule; a syntax error names its position."""
    name, signal_kind = name.strip(), signal_kind.strip()
    if not name:
        raise ValidationFailed("A rule needs a name.", field="name")
    name = required_name(name)
    if not signal_kind or len(signal_kind) > 64:
        raise ValidationFailed("The signal kind is 1 to 64 characters.", field="signal_kind")
    if signal_kind in DETECTORS:
        raise ValidationFailed(f"'{signal_kind}' is a built-in detector's kind; choose another.", field="signal_kind")
    try:
        ast = parse(expression)
    except RuleSyntaxError as error:
        raise ValidationFailed(f"Rule syntax: {error}", field="expression") from None
    if DetectionRule.objects.for_project(project).filter(name=name).exists():
        raise ValidationFailed(f"A rule named '{name}' already exists.", field="name")
    rule = DetectionRule.objects.create(project=project, name=name, expression=expression, ast=ast, signal_kind=signal_kind)
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.RULE_CREATED, target_type="detection_rule",
        target_id=rule.pk, target_label=name, after={"expression": expression, "signal_kind": signal_kind},
    )
    return rule


@transaction.atomic
def detection_rule_delete(*, project, rule_id, actor: Actor) -> None:
    rule = DetectionRule.objects.for_project(project).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("No such rule.", field="rule")
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.RULE_DELETED, target_type="detection_rule",
        target_id=rule.pk, target_label=rule.name, before={"expression": rule.expression, "signal_kind": rule.signal_kind},
    )
    rule.delete()
