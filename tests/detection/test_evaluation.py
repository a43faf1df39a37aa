"""The corpus measurement itself: the split is fixed by the id, turns are matched to detections by
position, and precision, recall, per-tag counts and lift are computed as defined."""

import json

from apps.detection import evaluation


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_split_is_a_fixed_function_of_the_id_near_70_30():
    ids = [f"domain-{n:03d}" for n in range(1000)]
    held = [i for i in ids if evaluation.split_of(i) == "heldout"]

    assert [evaluation.split_of(i) for i in ids] == [evaluation.split_of(i) for i in ids]
    assert 250 <= len(held) <= 350


def test_evaluate_counts_hits_misses_and_look_alikes(tmp_path):
    _write(tmp_path / "retail.jsonl", [
        {"id": "retail-001", "domain": "retail", "turns": [
            {"input": "I want to speak to a human", "output": "Connecting you now.", "gap_seconds": 0,
             "labels": ["escalation"], "tags": ["escalation:explicit"]}]},
        {"id": "retail-002", "domain": "retail", "turns": [
            {"input": "can you ring me back tomorrow", "output": "Sure.", "gap_seconds": 0,
             "labels": ["escalation"], "tags": ["escalation:callback"]},
            {"input": "what are your support hours", "output": "9 to 5.", "gap_seconds": 30,
             "labels": [], "tags": ["escalation-neg:support-hours"]}]},
    ])
    _write(tmp_path / "realistic_a.jsonl", [
        {"id": "retail-900", "domain": "retail", "turns": [
            {"input": "hi", "output": "Hello!", "gap_seconds": 0, "labels": [], "tags": []},
            {"input": "get me a real person", "output": "One moment.", "gap_seconds": 20, "labels": ["escalation"], "tags": []},
            {"input": "ok", "output": "Anything else?", "gap_seconds": 20, "labels": [], "tags": []},
            {"input": "no", "output": "Bye.", "gap_seconds": 20, "labels": [], "tags": []}]},
    ])
    sessions = evaluation.load_corpus(tmp_path)
    first = sessions[0].turns[0].data.id
    flagged = {first: {"escalation": {"reason": "asked"}}, sessions[1].turns[1].data.id: {"escalation": {}}}

    report = evaluation.evaluate(sessions, flagged)

    assert [len(s.turns) for s in sessions] == [1, 2]  # realistic sessions load separately
    assert (report.by_kind["escalation"].tp, report.by_kind["escalation"].fp, report.by_kind["escalation"].fn) == (1, 1, 1)
    assert report.by_kind["escalation"].precision == 0.5 and report.by_kind["escalation"].f1 == 0.5
    assert dict(report.by_tag) == {"escalation:explicit": [1, 1], "escalation:callback": [0, 1], "escalation-neg:support-hours": [1, 1]}
    assert report.by_kind["rephrase"].f1 is None  # nothing labelled, nothing flagged

    realistic = evaluation.load_corpus(tmp_path, realistic=True)
    result = evaluation.lift(realistic, {realistic[0].turns[1].data.id: {"escalation": {}}})
    assert (result.base_rate, result.flagged_precision, result.lift) == (0.25, 1.0, 4.0)


def test_predict_runs_the_real_detector_pass(tmp_path):
    _write(tmp_path / "saas.jsonl", [{"id": "saas-001", "domain": "saas", "turns": [
        {"input": "let me talk to a real person", "output": "Sure.", "gap_seconds": 0, "labels": ["escalation"], "tags": []}]}])
    sessions = evaluation.load_corpus(tmp_path)

    flagged = evaluation.predict(sessions)

    assert "escalation" in flagged[sessions[0].turns[0].data.id]
