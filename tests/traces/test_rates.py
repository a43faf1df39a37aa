import datetime as dt

import pytest
from django.utils import timezone

from apps.traces.rates import arm_signal_counts
from tests.factories.traces import SignalFactory, TurnFactory

pytestmark = pytest.mark.django_db


def _turns(project, variant: str, count: int, *, thumbs_down: int = 0, sent_false: int = 0, escalation: int = 0, **fields):
    turns = [TurnFactory(project=project, variant=variant, **fields) for _ in range(count)]
    for turn in turns[:thumbs_down]:
        SignalFactory(turn=turn, kind="thumbs_down", value=True)
        SignalFactory(turn=turn, kind="thumbs_down", value=True, source="widget")  # two signals, one turn
    for turn in turns[thumbs_down:thumbs_down + sent_false]:
        SignalFactory(turn=turn, kind="thumbs_down", value=False)
    for turn in turns[:escalation]:
        SignalFactory(turn=turn, kind="escalation", value={"phrase": "a human"}, source="detector")
    return turns


def test_counts_turns_and_turns_with_each_signal_per_arm(project, other_project):
    # given two arms, a false thumbs-down, another project's turns and an arm without turns
    _turns(project, "A", 10, thumbs_down=3, sent_false=2, escalation=1)
    _turns(project, "B", 6, thumbs_down=1)
    _turns(other_project, "A", 5, thumbs_down=5)

    counts = arm_signal_counts(project=project, arm_by="variant", arms=["A", "B", "C"], kinds=["thumbs_down", "escalation"])

    assert {arm: (c.turns, c.with_signal) for arm, c in counts.items()} == {
        "A": (10, {"thumbs_down": 3, "escalation": 1}),
        "B": (6, {"thumbs_down": 1, "escalation": 0}),
        "C": (0, {"thumbs_down": 0, "escalation": 0}),
    }
    assert counts["A"].rate("thumbs_down") == 0.3
    assert counts["C"].rate("thumbs_down") is None


def test_the_window_is_half_open_on_creation_time(project):
    now = timezone.now()
    _turns(project, "", 2, prompt_version="support@1", created_at=now - dt.timedelta(days=2), thumbs_down=1)
    _turns(project, "", 3, prompt_version="support@1", created_at=now, thumbs_down=2)

    counts = arm_signal_counts(project=project, arm_by="prompt_version", arms=["support@1"], kinds=["thumbs_down"],
                               since=now - dt.timedelta(days=1), until=now + dt.timedelta(seconds=1))
    before = arm_signal_counts(project=project, arm_by="prompt_version", arms=["support@1"], kinds=["thumbs_down"], until=now)

    assert (counts["support@1"].turns, counts["support@1"].with_signal) == (3, {"thumbs_down": 2})
    assert (before["support@1"].turns, before["support@1"].with_signal) == (2, {"thumbs_down": 1})


def test_arms_are_told_apart_by_variant_or_prompt_version_only(project):
    with pytest.raises(ValueError):
        arm_signal_counts(project=project, arm_by="model; DROP TABLE traces_turn", arms=["x"], kinds=[])
