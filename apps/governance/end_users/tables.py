"""Every table that holds end-user data, and how a row is found to be the user's.

An end user's data is found from their turns (``Turn.end_user_id``) and from the rows that copy
their id (feedback, problem memberships' ``affected_key``, the ``metadata.end_user_id`` a dataset
case copies from its turn). Children of a turn refer to it by ``turn_id``; decisions go with their
review item. tests/governance/test_end_users.py introspects every model: one with an
``end_user_id``, ``turn_id`` or ``affected_key`` column (or a foreign key to a table listed
here) that is in neither mapping below fails the test, so a new table cannot silently keep a
deleted user's data. ``TurnTombstone`` (a deleted turn's id and times, no content, no end-user
id) outlives the deletion on purpose; so does the audit log, which records a keyed hash.
"""

from __future__ import annotations

# model label → how its rows are the user's (export and deletion both cover each of them).
END_USER_TABLES = {
    "traces.Turn": "end_user_id",
    "traces.Step": "turn_id of the user's turns",
    "traces.Signal": "turn_id of the user's turns",
    "traces.Feedback": "turn_id of the user's turns, or end_user_id (on anyone's turn, or waiting for one)",
    "detection.DetectionPass": "turn_id of the user's turns",
    "detection.JudgeVerdict": "turn_id of the user's turns",
    "review.ReviewItem": "turn_id of the user's turns",
    "review.Decision": "item of the user's review items",
    "problems.ProblemTurn": "turn_id of the user's turns, or affected_key = end_user_id",
    "datasets.CaseRevision": "turn_id of the user's turns, or metadata.end_user_id (content erased, lineage kept)",
}

# model label → why it holds no end-user data although it looks as if it might.
NOT_END_USER_TABLES = {
    "detection.SweepCursor": "the sweep's position in the turn table shared by every project",
}
