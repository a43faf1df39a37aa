"""The built-in detectors' parameters: defaults, validation and the effective per-project view.

``DetectorSettings.params`` stores only what a project changed; ``effective_config`` merges it
over ``DEFAULTS``. ``validate_params`` is the one gate for new values (the settings page and
any future API use it) and raises ``ValidationFailed`` naming the offending parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.core.errors import ValidationFailed

DEFAULT_PUNT_PHRASES = [
    "i don't know", "i do not know", "i'm not sure", "i am not sure", "i can't help", "i cannot help",
    "i'm unable to", "i am unable to", "i'm not able to", "i am not able to", "unable to assist",
    "contact support", "contact customer support", "reach out to support", "i don't have access",
    "i don't have information", "i do not have information", "beyond my capabilities",
    "i can't answer", "i cannot answer", "i couldn't find", "i could not find", "no idea", "i have no idea",
    "i'm not certain", "no lo sé", "no sé", "ich weiß nicht", "ich weiss nicht", "je ne sais pas", "não sei", "não tenho certeza",
]

# name → (label, defaults). Numbers are floats or ints as given here; windows are in seconds.
DETECTORS: dict[str, tuple[str, dict]] = {
    "rephrase": ("Rephrase", {"window_seconds": 600, "min_probability": 0.55}),
    "abandonment": ("Abandonment", {"window_seconds": 1800, "min_score": 0.5}),
    "escalation": ("Escalation", {"phrases": []}),
    "agent_punted": ("Agent punted", {"phrases": DEFAULT_PUNT_PHRASES}),
    "frustration": ("Frustration", {}),
    "factual_claim": ("Factual claim", {}),
    "low_confidence": ("Low confidence", {"threshold": 0.5}),
    "recurrence": ("Recurrence", {"window_seconds": 7200, "threshold": 0.45}),
    "knowledge_gap": ("Knowledge gap", {"min_score": 0.3}),
    "tool_error": ("Tool error", {}),
    "random_sample": ("Random sample", {"percentage": 1.0}),
}

_BOUNDS = {
    "window_seconds": (1, 7 * 24 * 3600),
    "threshold": (0.0, 1.0),
    "min_probability": (0.0, 1.0),
    "min_score": (0.0, 1.0),
    "percentage": (0.0, 100.0),
}
MAX_PHRASES = 200
MAX_PHRASE_LENGTH = 200


def validate_params(detector: str, params: dict) -> dict:
    """Return the cleaned overrides for ``detector``; unknown keys and out-of-range values fail."""
    if detector not in DETECTORS:
        raise ValidationFailed(f"Unknown detector '{detector}'.", field="detector")
    if not isinstance(params, dict):
        raise ValidationFailed("Parameters must be an object.", field="params")
    defaults = DETECTORS[detector][1]
    cleaned: dict = {}
    for key, value in params.items():
        if key not in defaults:
            raise ValidationFailed(f"'{detector}' has no parameter '{key}'.", field=key)
        if key == "phrases":
            if isinstance(value, str):
                value = value.splitlines()
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                raise ValidationFailed("Phrases must be a list of text lines.", field=key)
            phrases = list(dict.fromkeys(p.strip().lower() for p in value if p.strip()))
            if len(phrases) > MAX_PHRASES or any(len(p) > MAX_PHRASE_LENGTH for p in phrases):
                raise ValidationFailed(
                    f"At most {MAX_PHRASES} phrases of at most {MAX_PHRASE_LENGTH} characters.", field=key
                )
            cleaned[key] = phrases
            continue
        low, high = _BOUNDS[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValidationFailed(f"'{key}' must be a number.", field=key) from None
        if isinstance(value, bool) or number != number or not low <= number <= high:
            raise ValidationFailed(f"'{key}' must be between {low:g} and {high:g}.", field=key)
        cleaned[key] = int(number) if isinstance(defaults[key], int) else number
    return cleaned


@dataclass(frozen=True)
class DetectorConfig:
    """The effective settings of one project: which detectors run, with which parameters."""

    enabled: frozenset[str] = frozenset(DETECTORS)
    params: dict[str, dict] = field(default_factory=lambda: {name: dict(d) for name, (_, d) in DETECTORS.items()})

    def p(self, detector: str) -> dict:
        return self.params[detector]


def effective_config(rows) -> DetectorConfig:
    """Merge stored ``DetectorSettings`` rows over the defaults (a stale key is ignored)."""
    params = {name: dict(defaults) for name, (_, defaults) in DETECTORS.items()}
    enabled = set(DETECTORS)
    for row in rows:
        if row.detector not in DETECTORS:
            continue
        if not row.enabled:
            enabled.discard(row.detector)
        for key, value in (row.params or {}).items():
            if key in params[row.detector]:
                params[row.detector][key] = value
    return DetectorConfig(enabled=frozenset(enabled), params=params)
