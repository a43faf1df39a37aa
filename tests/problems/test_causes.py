"""Cause proposals on labelled evidence: each kind of cause, and nothing on weak evidence."""

from __future__ import annotations

import pytest

from apps.problems.causes import Counts, propose
from apps.problems.models import CauseState, Problem
from tests.problems.conftest import flagged_turn, run
from tests.factories.traces import TurnFactory

BASELINE = Counts(
    total=1000, gap_empty=40, gap_low=10, tools={"refund": 20, "search": 5},
    prompt_versions={"v11": 600, "v12": 400}, models={"gpt-4o-mini": 900, "gpt-4o": 100},
    kinds={"agent_punted": 50, "thumbs_down": 100},
)


def _members(**fields) -> Counts:
    return Counts(**{"total": 10, "prompt_versions": {"v11": 6, "v12": 4}, "models": {"gpt-4o-mini": 9, "gpt-4o": 1}, **fields})


@pytest.mark.parametrize(
    ("members", "key", "text"),
    [
        (_members(gap_empty=9), "retrieval:empty", "90% of these turns retrieved nothing (vs 4% of all turns)"),
        (_members(gap_empty=2, gap_low=5), "retrieval:gap",
         "70% of these turns retrieved nothing or only low-scoring documents (vs 5% of all turns)"),
        (_members(tools={"refund": 6}), "tool:refund", "tool `refund` failed in 60% of these turns (vs 2% of all turns)"),
        (_members(prompt_versions={"v12": 10}), "prompt_version:v12", "all on prompt v12 (vs 40% of all turns)"),
        (_members(models={"gpt-4o": 9, "gpt-4o-mini": 1}), "model:gpt-4o", "90% on model gpt-4o (vs 10% of all turns)"),
        (_members(kinds={"agent_punted": 8}), "signal:agent_punted",
         "in 80% of these turns the agent said it could not help (vs 5% of all turns)"),
    ],
    ids=["retrieval-empty", "retrieval-low", "tool", "prompt", "model", "signal"],
)
def test_each_kind_of_cause_is_proposed_from_its_evidence(members, key, text):
    chosen, evidence = propose(members, BASELINE)

    assert (chosen["key"], chosen["text"]) == (key, text)
    assert evidence["chosen"] == key
    assert evidence["turns"] == 10 and evidence["baseline_turns"] == 1000


@pytest.mark.parametrize(
    "members",
    [
        _members(),  # nothing stands out: the problem looks like the baseline
        _members(gap_empty=3),  # 30% retrieved nothing: below the 50% bar
        _members(tools={"refund": 3}),  # 30% of turns: below the 40% bar
        _members(prompt_versions={"v11": 7, "v12": 3}),  # 70% on v11: no concentration
        Counts(total=2, gap_empty=2, tools={"refund": 2}),  # two turns: too little evidence
    ],
    ids=["baseline-like", "weak-retrieval", "weak-tool", "no-concentration", "too-few-turns"],
)
def test_weak_evidence_proposes_nothing(members):
    chosen, evidence = propose(members, BASELINE)

    assert chosen is None
    assert evidence["chosen"] == ""


def test_a_concentration_the_whole_project_shares_is_not_a_cause():
    baseline = Counts(total=1000, prompt_versions={"v12": 1000}, models={"m": 1000})

    chosen, _ = propose(Counts(total=10, prompt_versions={"v12": 10}, models={"m": 10}), baseline)

    assert chosen is None


def test_the_strongest_finding_wins_and_a_rejected_one_is_skipped():
    members = _members(gap_empty=9, tools={"refund": 6})

    first, _ = propose(members, BASELINE)
    second, _ = propose(members, BASELINE, rejected=[first["key"]])

    assert (first["key"], second["key"]) == ("retrieval:empty", "tool:refund")


@pytest.mark.django_db
def test_the_job_proposes_the_tool_cause_against_the_project_baseline(project):
    for n in range(20):
        TurnFactory(project=project, input=f"Where is my parcel number {n}?", prompt_version="v11", model="m")
    for text in ["Please refund order 1187", "refund my order 5521 please", "I need a refund for order 9911"]:
        flagged_turn(project, text, signals=[("tool_error", {"failed": ["refund"]}, "detector")], prompt_version="v11", model="m")

    run(project)

    problem = Problem.objects.for_project(project).get()
    assert (problem.cause_state, problem.cause_key) == (CauseState.PROPOSED, "tool:refund")
    assert problem.cause == "tool `refund` failed in 100% of these turns (vs 13% of all turns)"
    assert problem.evidence["findings"][0]["key"] == "tool:refund"


@pytest.mark.django_db
def test_the_job_proposes_retrieval_and_prompt_causes(project):
    for n in range(20):
        TurnFactory(project=project, input=f"How do I export report {n}?", prompt_version="v12", model="m")
    for text in ["How do I set up SAML SSO with Okta?", "configure Okta SSO for SAML", "SAML SSO Okta setup steps"]:
        flagged_turn(project, text, signals=[("knowledge_gap", {"reason": "empty"}, "detector")], prompt_version="v12", model="m")
    for text in ["How long does shipping to Canada take?", "shipping time to Canada", "Canada shipping how long"]:
        flagged_turn(project, text, prompt_version="v13", model="m")

    run(project)

    causes = sorted(Problem.objects.for_project(project).values_list("cause_key", "cause"))
    assert causes == [
        ("prompt_version:v13", "all on prompt v13 (vs 12% of all turns)"),
        ("retrieval:empty", "100% of these turns retrieved nothing (vs 12% of all turns)"),
    ]


@pytest.mark.django_db
def test_a_problem_with_too_few_turns_gets_no_cause(project):
    flagged_turn(project, "Please refund order 1187", signals=[("tool_error", {"failed": ["refund"]}, "detector")])

    run(project)

    problem = Problem.objects.for_project(project).get()
    assert (problem.cause, problem.cause_state) == ("", CauseState.NONE)
    assert problem.evidence["note"] == "Fewer than 3 turns: too little evidence for a cause."
