"""The pinned ``POST /api/v1/validations`` body, checked and normalised (stable error codes).

Offline: ``{"kind": "offline", "baseline": experiment_id, "candidate": experiment_id,
"metrics"?: [scorer | {"scorer", "direction", "tolerance"}], "alpha"?}``.
Online: ``{"kind": "online", "baseline": {"variant": "A"} | {"prompt_version": "support-agent@3"},
"candidate": {...}, "target": {"signal", "direction"}, "guardrails"?: [{"signal", "direction",
"tolerance"}], "since"?, "until"?, "alpha"?: 0.05, "min_detectable_effect"?: 0.02, "power"?: 0.8,
"baseline_rate"?, "design"?: "fixed" | "sequential"}``.

A target or guardrail is a rate by default (the share of turns with the signal; tolerance in rate
points, 0.01 = one point); ``"stat": "mean"`` makes it the mean of the signal's numeric values
(``{"signal": "csat", "direction": "increase", "stat": "mean"}``; a guardrail's tolerance then in
the signal's own units, e.g. 50 for ``latency_ms``). A mean target needs ``min_detectable_effect``
in the signal's units (the horizon's power calculation) and the fixed design.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from django.utils.dateparse import parse_datetime

from apps.core.errors import ValidationFailed

SIGNAL_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
ARM_VALUE_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
DIRECTIONS = ("increase", "decrease")
MAX_GUARDRAILS = 10
STATS = ("rate", "mean")
MAX_VALUE = 1e12  # a numeric signal's tolerance or effect, in its own units
OFFLINE_KEYS = {"kind", "baseline", "candidate", "metrics", "alpha", "change"}
ONLINE_KEYS = {"kind", "baseline", "candidate", "target", "guardrails", "since", "until", "alpha",
               "min_detectable_effect", "power", "baseline_rate", "design", "change"}


def _fail(message: str, field: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, field=field)


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"{field} is a number.", field)
    return float(value)


def _alpha(body: dict) -> float:
    alpha = _number(body.get("alpha", 0.05), "alpha")
    if not 0 < alpha <= 0.5:
        raise _fail("alpha lies in (0, 0.5].", "alpha", "invalid_alpha")
    return alpha


def _direction(value, field: str) -> str:
    if value not in DIRECTIONS:
        raise _fail(f"{field} is 'increase' or 'decrease'.", field)
    return value


def _stat(item: dict, field: str) -> dict:
    """``{"stat": "mean"}`` for a mean goal, ``{}`` for a rate (so a rate's normalised inputs and
    their hash stay what they were before means existed)."""
    stat = item.get("stat", "rate")
    if stat not in STATS:
        raise _fail(f"{field}.stat is 'rate' (the share of turns with the signal) or 'mean' (of its numeric values).",
                    f"{field}.stat")
    return {"stat": "mean"} if stat == "mean" else {}


def _tolerance(value, field: str, *, mean: bool = False) -> float:
    tolerance = _number(value, field)
    if mean:
        if not 0 <= tolerance < MAX_VALUE:
            raise _fail("The tolerance of a mean is how much worse is still acceptable, in the signal's own units: "
                        "zero or more.", field, "invalid_tolerance")
        return tolerance
    if tolerance < 0 or tolerance >= 1:
        raise _fail("A tolerance is how much worse is still acceptable, in the metric's unit: zero or more "
                    "(0.01 = one point of a rate), below 1.", field, "invalid_tolerance")
    return tolerance


def _signal(value, field: str) -> str:
    if not isinstance(value, str) or not SIGNAL_RE.match(value):
        raise _fail("A signal kind: lowercase letters, digits, '_', '.', '-' (e.g. thumbs_down).", field)
    return value


def _experiment_id(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise _fail(f"{field} is an experiment id (a whole number).", field)
    return value


def _arm(value, field: str) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("variant", "prompt_version"):
        raise _fail(f'{field} is {{"variant": "A"}} or {{"prompt_version": "support-agent@3"}}.', field)
    (key, arm), = value.items()
    if not isinstance(arm, str) or not ARM_VALUE_RE.match(arm):
        raise _fail(f"{field}.{key} is text (1–200 characters, no control characters).", field)
    return {key: arm}


def _when(value, field: str) -> str | None:
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _fail(f"{field} is an ISO 8601 date and time.", field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).isoformat()


def _unknown(body: dict, allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise _fail(f"Unknown field {extra[0]!r}.", extra[0])


def normalise(body) -> dict:
    """The checked body with defaults filled in (what the report and the idempotency hash rest on)."""
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    kind = body.get("kind")
    if kind == "offline":
        _unknown(body, OFFLINE_KEYS)
        baseline, candidate = _experiment_id(body.get("baseline"), "baseline"), _experiment_id(body.get("candidate"), "candidate")
        if baseline == candidate:
            raise _fail("The candidate is the baseline: compare two different experiments.", "candidate", "same_arms")
        metrics = body.get("metrics", [])
        if not isinstance(metrics, list) or len(metrics) > 20:
            raise _fail("metrics is a list (at most 20) of scorer names or {scorer, direction, tolerance}.", "metrics")
        specs = []
        for index, item in enumerate(metrics):
            field = f"metrics[{index}]"
            if isinstance(item, str):
                item = {"scorer": item}
            if not isinstance(item, dict) or set(item) - {"scorer", "direction", "tolerance"} or not isinstance(item.get("scorer"), str) \
                    or not 1 <= len(item["scorer"]) <= 100:
                raise _fail("Each metric is a scorer name or {scorer, direction?, tolerance?}.", field)
            specs.append({"scorer": item["scorer"], "direction": _direction(item.get("direction", "increase"), f"{field}.direction"),
                          "tolerance": _tolerance(item.get("tolerance", 0), f"{field}.tolerance")})
        if len({s["scorer"] for s in specs}) != len(specs):
            raise _fail("Each scorer appears once in metrics.", "metrics")
        return {"kind": "offline", "baseline": baseline, "candidate": candidate, "metrics": specs, "alpha": _alpha(body)}
    if kind == "online":
        _unknown(body, ONLINE_KEYS)
        baseline, candidate = _arm(body.get("baseline"), "baseline"), _arm(body.get("candidate"), "candidate")
        if next(iter(baseline)) != next(iter(candidate)):
            raise _fail("Both arms are told apart the same way: by variant or by prompt_version.", "candidate")
        if baseline == candidate:
            raise _fail("The candidate is the baseline: compare two different arms.", "candidate", "same_arms")
        target = body.get("target")
        if not isinstance(target, dict) or set(target) - {"signal", "direction", "stat"}:
            raise _fail('target is {"signal": "thumbs_down", "direction": "decrease", "stat"?: "rate" | "mean"}.', "target")
        target = {"signal": _signal(target.get("signal"), "target.signal"),
                  "direction": _direction(target.get("direction"), "target.direction"), **_stat(target, "target")}
        guardrails = body.get("guardrails", [])
        if not isinstance(guardrails, list) or len(guardrails) > MAX_GUARDRAILS:
            raise _fail(f"guardrails is a list of at most {MAX_GUARDRAILS}.", "guardrails")
        checked = []
        for index, item in enumerate(guardrails):
            field = f"guardrails[{index}]"
            if not isinstance(item, dict) or set(item) - {"signal", "direction", "tolerance", "stat"}:
                raise _fail("Each guardrail is {signal, direction, tolerance, stat?}.", field)
            stat = _stat(item, field)
            checked.append({"signal": _signal(item.get("signal"), f"{field}.signal"),
                            "direction": _direction(item.get("direction"), f"{field}.direction"),
                            "tolerance": _tolerance(item.get("tolerance", 0), f"{field}.tolerance", mean=bool(stat)), **stat})
        signals = [target["signal"], *[g["signal"] for g in checked]]
        if len(set(signals)) != len(signals):
            raise _fail("Each signal is the target or one guardrail, once.", "guardrails")
        since, until = _when(body.get("since"), "since"), _when(body.get("until"), "until")
        if since and until and since >= until:
            raise _fail("since comes before until.", "until")
        mean_target = target.get("stat") == "mean"
        if mean_target and body.get("min_detectable_effect") is None:
            raise _fail(f"A mean target needs min_detectable_effect: the change of mean {target['signal']} to detect, "
                        "in the signal's own units.", "min_detectable_effect", "required")
        mde = _number(body.get("min_detectable_effect", 0.02), "min_detectable_effect")
        if mean_target and not 0 < mde < MAX_VALUE:
            raise _fail("min_detectable_effect of a mean target is above zero, in the signal's units.", "min_detectable_effect")
        if not mean_target and not 0 < mde < 1:
            raise _fail("min_detectable_effect is a rate difference in (0, 1): 0.02 is two points.", "min_detectable_effect")
        power = _number(body.get("power", 0.8), "power")
        if not 0.5 <= power < 1:
            raise _fail("power lies in [0.5, 1).", "power")
        baseline_rate = body.get("baseline_rate")
        if baseline_rate is not None:
            baseline_rate = _number(baseline_rate, "baseline_rate")
            if not 0 < baseline_rate < 1:
                raise _fail("baseline_rate lies in (0, 1).", "baseline_rate")
        if baseline_rate is not None and mean_target:
            raise _fail("baseline_rate is for a rate target; a mean target's horizon uses the baseline's spread.", "baseline_rate")
        design = body.get("design", "fixed")
        if design not in ("fixed", "sequential"):
            raise _fail("design is 'fixed' or 'sequential'.", "design")
        if design == "sequential" and any(goal.get("stat") == "mean" for goal in [target, *checked]):
            raise _fail("The sequential design covers rates only: compare a mean with the fixed design.", "design")
        return {"kind": "online", "baseline": baseline, "candidate": candidate, "target": target, "guardrails": checked,
                "since": since, "until": until, "alpha": _alpha(body), "min_detectable_effect": mde, "power": power,
                "baseline_rate": baseline_rate, "design": design}
    raise _fail("kind is 'offline' or 'online'.", "kind")


def inputs_hash(inputs: dict, change_id: int | None) -> str:
    canonical = json.dumps({"inputs": inputs, "change": change_id}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
