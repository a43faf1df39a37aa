"""An end user with a row of every kind ``apps.governance.end_users.tables`` lists.

``end_user_world(project, "alice")`` gives alice two turns with steps, signals, feedback and a
detection pass; one of them confirmed in review, in a problem and copied into a dataset (whose
next version then edits the case, so a past version holds it too); her feedback on someone
else's turn and one waiting for its turn; and a dataset case and a problem membership whose
turn already expired (found by the id they copied).
"""

from __future__ import annotations

import uuid

from apps.datasets.services.changes import case_edit
from apps.datasets.services.turns import cases_add_from_turns
from apps.detection.models import DetectionPass, JudgeVerdict
from apps.governance.purge import purge_turns
from apps.problems.models import Problem, ProblemTurn
from apps.traces.models import Turn
from tests.factories.datasets import AUTHOR, DatasetFactory, confirmed_turn
from tests.factories.traces import FeedbackFactory, SignalFactory, StepFactory, TurnFactory


def _children(turn):
    StepFactory(turn=turn)
    StepFactory(turn=turn)
    SignalFactory(turn=turn)
    FeedbackFactory(turn=turn, end_user_id=turn.end_user_id, comment="My order never came")
    DetectionPass.objects.create(project=turn.project, turn_id=turn.id)
    JudgeVerdict.objects.create(project=turn.project, turn_id=turn.id, kind="agent_punted", prompt_hash="p", model="m",
                                verdict=False, confidence=0.2, reason="The answer about my order never came was fine")


def end_user_world(project, end_user_id: str, *, other_turn=None) -> dict:
    reviewed, decision = confirmed_turn(project, end_user_id=end_user_id, problem_title="Refund window wrong")
    plain = TurnFactory(project=project, end_user_id=end_user_id)
    for turn in (reviewed, plain):
        _children(turn)
    dataset = DatasetFactory(project=project)
    expired = TurnFactory(project=project, end_user_id=end_user_id, input="An old question of mine")
    result, _ = cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[reviewed.id, expired.id])
    case_id = result.case_ids[0]
    case_edit(dataset=dataset, case_id=case_id, changes={"tags": ["refunds"]}, author=AUTHOR)
    problem = Problem.objects.for_project(project).get(title="Refund window wrong")
    ProblemTurn.objects.create(project=project, problem=problem, turn_id=expired.id, turn_created_at=expired.created_at,
                               affected_key=end_user_id)
    purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=expired.id), reason="retention")
    other_turn = other_turn or TurnFactory(project=project, end_user_id="bob")
    FeedbackFactory(turn=other_turn, end_user_id=end_user_id, comment="About someone else's answer")
    FeedbackFactory(turn=None, project=project, turn_id=uuid.uuid4(), end_user_id=end_user_id, comment="Early feedback")
    return {"turns": [reviewed, plain], "decision": decision, "dataset": dataset, "problem": problem, "other_turn": other_turn}
