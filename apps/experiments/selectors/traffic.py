"""A prompt version's traffic: the turns that carried it (``prompt_version = "<name>@<n>"``), their
signal rates and the confirmed failures among them, since the version first got a label (or
since it was created, if it never had one). Read through the traces and review selectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.experiments.models import PromptVersion
from apps.experiments.selectors.prompts import prompt_version_labelled_at, prompt_version_reference
from apps.review.selectors import review_confirmed_turn_count
from apps.traces.selectors import prompt_version_signal_counts, prompt_version_turn_ids

SIGNALS = (
    ("thumbs_down", "Thumbs-down"),
    ("rephrase", "Rephrase"),
    ("escalation", "Escalation"),
    ("agent_punted", "Punt"),
    ("abandonment", "Abandonment"),
)


@dataclass(slots=True)
class Rate:
    kind: str
    label: str
    count: int
    rate: float | None  # share of the turns, None without turns


@dataclass(slots=True)
class Traffic:
    number: int
    reference: str
    since: dt.datetime
    since_label: str  # the label whose arrival starts the window ("" = since creation)
    turns: int
    rates: list[Rate] = field(default_factory=list)
    confirmed: int = 0
    confirmed_rate: float | None = None

    def as_dict(self) -> dict:
        return {
            "version": self.number, "prompt_version": self.reference, "since": self.since.isoformat(),
            "since_label": self.since_label or None, "turns": self.turns,
            "signals": {r.kind: {"turns": r.count, "rate": r.rate} for r in self.rates},
            "confirmed_failures": self.confirmed, "confirmed_failure_rate": self.confirmed_rate,
        }


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def version_traffic(*, version: PromptVersion) -> Traffic:
    labelled = prompt_version_labelled_at(version=version)
    since_label, since = "", version.created_at
    if labelled:
        since_label, since = min(labelled.items(), key=lambda item: item[1])
    reference = prompt_version_reference(version.prompt.name, version.number)
    project = version.project_id
    turns, counts = prompt_version_signal_counts(
        project=project, prompt_version=reference, since=since, kinds=[kind for kind, _ in SIGNALS],
    )
    confirmed = review_confirmed_turn_count(
        project=project, turn_ids=prompt_version_turn_ids(project=project, prompt_version=reference, since=since),
    ) if turns else 0
    return Traffic(
        number=version.number, reference=reference, since=since, since_label=since_label, turns=turns,
        rates=[Rate(kind, label, counts.get(kind, 0), _share(counts.get(kind, 0), turns)) for kind, label in SIGNALS],
        confirmed=confirmed, confirmed_rate=_share(confirmed, turns),
    )


def version_traffic_compared(*, version: PromptVersion) -> tuple[Traffic, Traffic | None]:
    """This version's traffic and the previous version's (number − 1), each in its own window."""
    current = version_traffic(version=version)
    previous = (
        PromptVersion.objects.for_project(version.project_id).filter(prompt_id=version.prompt_id, number=version.number - 1).first()
    )
    if previous is None:
        return current, None
    previous.prompt = version.prompt
    return current, version_traffic(version=previous)
