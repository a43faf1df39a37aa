"""Two experiments on the same dataset version, case by case: flips first, then the rest.

``comparison`` pairs the results by case id; for each pass/fail scorer both ran it names the
cases that flipped pass → fail (regressions, listed first) and fail → pass. ``word_diff`` marks
the words that differ between two outputs (difflib over whitespace-split words); the template
escapes every piece, so outputs are never markup.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from apps.core.errors import ValidationFailed
from apps.datasets.selectors.datasets import revisions_at
from apps.experiments.models import Experiment
from apps.experiments.selectors.experiments import results_of


@dataclass
class Row:
    case_id: str
    input: str
    expected: str
    baseline: object  # ExperimentResult | None
    candidate: object
    flips: list[tuple[str, str]] = field(default_factory=list)  # (scorer, "pass→fail" | "fail→pass")
    diff: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Comparison:
    baseline: Experiment
    candidate: Experiment
    scorers: list[str]
    rows: list[Row]
    regressions: int
    improvements: int


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """``[(op, text)]`` with op ``same``, ``removed`` or ``added`` (words joined by spaces)."""
    a, b = before.split(), after.split()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("added", " ".join(b[j1:j2])))
    return out


def comparison(*, baseline: Experiment, candidate: Experiment, limit: int = 500) -> Comparison:
    if baseline.dataset_id != candidate.dataset_id or baseline.dataset_version != candidate.dataset_version:
        raise ValidationFailed("The two experiments ran on different dataset versions: compare runs of the same version.",
                               code="different_dataset_versions", field="candidate")
    if baseline.pk == candidate.pk:
        raise ValidationFailed("Pick two different experiments.", code="same_experiment", field="candidate")
    left = {r.case_id: r for r in results_of(experiment=baseline)}
    right = {r.case_id: r for r in results_of(experiment=candidate)}
    names = sorted({n for r in left.values() for n, v in r.scores.items() if isinstance(v, bool)}
                   & {n for r in right.values() for n, v in r.scores.items() if isinstance(v, bool)})
    cases = revisions_at(dataset=baseline.dataset, number=baseline.dataset_version).order_by("position")
    rows = []
    for case in cases:
        b, c = left.get(case.case_id), right.get(case.case_id)
        if b is None and c is None:
            continue
        row = Row(str(case.case_id), case.input, case.expected_output, b, c)
        for name in names:
            vb = b.scores.get(name) if b else None
            vc = c.scores.get(name) if c else None
            if vb is True and vc is False:
                row.flips.append((name, "pass→fail"))
            elif vb is False and vc is True:
                row.flips.append((name, "fail→pass"))
        rows.append(row)
    regressions = sum(1 for r in rows if any(kind == "pass→fail" for _, kind in r.flips))
    improvements = sum(1 for r in rows if any(kind == "fail→pass" for _, kind in r.flips))

    def order(row: Row) -> int:
        kinds = {kind for _, kind in row.flips}
        return 0 if "pass→fail" in kinds else 1 if "fail→pass" in kinds else 2

    rows.sort(key=order)
    rows = rows[:limit]
    for row in rows:
        if row.baseline is not None and row.candidate is not None and row.baseline.output != row.candidate.output:
            row.diff = word_diff(row.baseline.output[:20_000], row.candidate.output[:20_000])
    return Comparison(baseline, candidate, names, rows, regressions, improvements)
