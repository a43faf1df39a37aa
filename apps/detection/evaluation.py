"""Measuring the built-in detectors on the hand-labelled corpus (``bench/corpus/detection``).

The corpus is JSON Lines, one session per line (its README has the format and the labelling
conventions). A session is **held out** when ``int(sha256(id), 16) % 10 >= 7`` and in the
**development** part otherwise: a fixed 70/30 split that no threshold or model is fitted on
(``split_of``). ``realistic_*.jsonl`` files hold long production-like sessions where only a few
percent of turns fail; they measure the lift of the flagged set and nothing is fitted on them.

``evaluate`` runs the real detector pass (``run_detectors``, the code a worker runs) over the
sessions and compares, turn by turn, the kinds it flagged with the labels: precision, recall and
F1 per detector, and per tag (a kind of positive, or of look-alike negative) how many of its
turns were flagged. ``bench/detection_quality.py`` prints it; tests assert floors on the
held-out part; ``manage.py train_detectors`` fits the rephrase model on the development part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.detection.config import DetectorConfig
from apps.detection.detectors.base import TurnData

CORPUS_DIR = Path(settings.BASE_DIR) / "bench" / "corpus" / "detection"
# The kinds the corpus labels, and the ones that mark a failure a reviewer should see (a factual
# claim is worth auditing, not a failure).
KINDS = ("rephrase", "escalation", "agent_punted", "frustration", "factual_claim")
FAILURE_KINDS = ("rephrase", "escalation", "agent_punted", "frustration")
# A tag's prefix (before ":") names the detector it is about; "-neg" marks a look-alike negative.
TAG_KIND = {
    "rephrase": "rephrase", "escalation": "escalation", "punt": "agent_punted",
    "frustration": "frustration", "claim": "factual_claim",
}
EPOCH = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
NAMESPACE = uuid.UUID("5b0c7f8e-2f43-4c1e-9a57-0d5e1f7f3a10")


@dataclass(frozen=True, slots=True)
class LabelledTurn:
    data: TurnData
    labels: frozenset[str]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    domain: str
    turns: tuple[LabelledTurn, ...]

    @property
    def split(self) -> str:
        return split_of(self.id)


def split_of(session_id: str) -> str:
    """``"heldout"`` for about 30 % of sessions, fixed by the id; ``"dev"`` for the rest."""
    return "heldout" if int(hashlib.sha256(session_id.encode()).hexdigest(), 16) % 10 >= 7 else "dev"


def tag_kind(tag: str) -> tuple[str | None, bool]:
    """The detector kind a tag is about, and whether it names a look-alike negative."""
    prefix = tag.split(":", 1)[0]
    negative = prefix.endswith("-neg")
    return TAG_KIND.get(prefix.removesuffix("-neg")), negative


def _session(row: dict, *, start: dt.datetime) -> Session:
    turns, at = [], start
    for index, turn in enumerate(row["turns"]):
        at += dt.timedelta(seconds=float(turn.get("gap_seconds") or 0))
        data = TurnData(
            id=uuid.uuid5(NAMESPACE, f"{row['id']}:{index}"), session_id=row["id"], end_user_id=row["id"],
            created_at=at, question=turn.get("input") or "", answer=turn.get("output") or "",
        )
        turns.append(LabelledTurn(data=data, labels=frozenset(turn.get("labels") or ()), tags=tuple(turn.get("tags") or ())))
        at += dt.timedelta(seconds=5)  # the answer takes a few seconds; gaps count from it
    return Session(id=row["id"], domain=row.get("domain", ""), turns=tuple(turns))


def load_corpus(directory: Path | None = None, *, realistic: bool = False) -> list[Session]:
    """The labelled sessions (``realistic=True``: the long production-like ones), in file order.

    Sessions start a day apart so that no detector window joins two of them.
    """
    directory = Path(directory or CORPUS_DIR)
    paths = sorted(p for p in directory.glob("*.jsonl") if p.name.startswith("realistic_") == realistic)
    sessions = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                sessions.append(_session(json.loads(line), start=EPOCH + dt.timedelta(days=len(sessions))))
    return sessions


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if not p or not r:
            return 0.0 if p is not None or r is not None else None
        return 2 * p * r / (p + r)


@dataclass
class Report:
    turns: int = 0
    by_kind: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    # tag → [turns flagged by the tag's detector, turns with the tag]
    by_tag: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, "fp"|"fn", turn text)


def predict(sessions: list[Session], config: DetectorConfig | None = None, **detector_options) -> dict[uuid.UUID, dict[str, dict]]:
    """turn id → {kind: the detection's value} from one detector pass over every session."""
    from apps.detection.detectors.runner import run_detectors

    config = config or DetectorConfig()
    flagged: dict[uuid.UUID, dict[str, dict]] = defaultdict(dict)
    for session in sessions:
        turns = [turn.data for turn in session.turns]
        now = turns[-1].created_at + dt.timedelta(days=1)
        for detection in run_detectors([turns], config, now=now, **detector_options).detections:
            flagged[detection.turn_id][detection.kind] = detection.value
    return flagged


def evaluate(sessions: list[Session], flagged: dict[uuid.UUID, dict[str, dict]]) -> Report:
    report = Report()
    for session in sessions:
        for turn in session.turns:
            report.turns += 1
            kinds = flagged.get(turn.data.id, {})
            for kind in KINDS:
                fired, labelled = kind in kinds, kind in turn.labels
                counts = report.by_kind[kind]
                if fired and labelled:
                    counts.tp += 1
                elif fired:
                    counts.fp += 1
                    report.errors.append((kind, "fp", turn.data.question if kind != "agent_punted" else turn.data.answer))
                elif labelled:
                    counts.fn += 1
                    report.errors.append((kind, "fn", turn.data.question if kind != "agent_punted" else turn.data.answer))
            for tag in turn.tags:
                kind, _ = tag_kind(tag)
                entry = report.by_tag[tag]
                entry[0] += kind in kinds
                entry[1] += 1
    return report


@dataclass(frozen=True)
class Lift:
    turns: int
    failures: int
    flagged: int
    flagged_failures: int

    @property
    def base_rate(self) -> float:
        return self.failures / self.turns if self.turns else 0.0

    @property
    def flagged_precision(self) -> float:
        return self.flagged_failures / self.flagged if self.flagged else 0.0

    @property
    def lift(self) -> float:
        """Share of failures among flagged turns ÷ the share in a random sample of the same size
        (whose expected share is the base rate)."""
        return self.flagged_precision / self.base_rate if self.base_rate else 0.0


def lift(sessions: list[Session], flagged: dict[uuid.UUID, dict[str, dict]], kinds=FAILURE_KINDS) -> Lift:
    turns = failures = flagged_count = flagged_failures = 0
    for session in sessions:
        for turn in session.turns:
            turns += 1
            failed = bool(turn.labels.intersection(kinds))
            hit = any(kind in flagged.get(turn.data.id, {}) for kind in kinds)
            failures += failed
            flagged_count += hit
            flagged_failures += hit and failed
    return Lift(turns=turns, failures=failures, flagged=flagged_count, flagged_failures=flagged_failures)
