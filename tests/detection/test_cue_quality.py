"""Floors on the held-out part of the hand-labelled corpus for the cue detectors, so that their
quality cannot silently regress. The floors are what the detectors reached, less a margin (nothing
was fitted on the held-out part; ``bench/detection_quality.py`` prints the figures). The issue's
targets (escalation and punt F1 0.90 with precision 0.95) are not all met yet: the floors below
record where they stand, the README the gap."""

import pytest

from apps.detection import evaluation

FLOORS = {  # kind → (precision, F1) on the held-out part
    "escalation": (0.90, 0.88),
    "agent_punted": (0.87, 0.71),
    "frustration": (0.82, 0.68),
    "factual_claim": (0.75, 0.74),
}


@pytest.fixture(scope="module")
def heldout_report():
    sessions = [s for s in evaluation.load_corpus() if s.split == "heldout"]
    return evaluation.evaluate(sessions, evaluation.predict(sessions))


@pytest.mark.parametrize("kind", sorted(FLOORS))
def test_held_out_precision_and_f1_stay_above_their_floors(heldout_report, kind):
    counts = heldout_report.by_kind[kind]
    precision_floor, f1_floor = FLOORS[kind]

    assert counts.tp + counts.fn >= 8  # enough positives for the figure to mean something
    assert counts.precision >= precision_floor, (kind, counts)
    assert counts.f1 >= f1_floor, (kind, counts)


def test_the_realistic_mix_keeps_its_lift():
    sessions = evaluation.load_corpus(realistic=True)

    result = evaluation.lift(sessions, evaluation.predict(sessions))

    assert result.lift >= 5.0, result
