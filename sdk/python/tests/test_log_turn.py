"""What log_turn, feedback and signal put on the wire, and that they never raise."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import uuid

from agentloop import AgentLoop, Turn


def test_log_turn_sends_every_given_field_and_omits_the_others(server, make_client):
    loop = make_client()
    when = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.timezone.utc)

    turn = loop.log_turn(
        question="Where is my refund?", agent_response="It was sent on Monday.", user_id=42,
        session_id="s-1", signals={"thumbs_down": True}, history=[{"role": "user", "content": "hi"}],
        prompt_version="v12", model="gpt-4o", retrieved=[{"doc": "refunds.md"}], tool_calls=[],
        metadata={"plan": "pro"}, variant="B", timestamp=when,
        steps=[{"id": 1, "parent_id": None, "kind": "llm", "name": "answer", "started_at": when,
                "ended_at": when + dt.timedelta(seconds=2), "input": "q", "output": "a", "error": None}],
    )

    assert loop.flush(timeout=5) is True
    [item] = server.ingests[0].items
    assert item == {
        "type": "turn",
        "id": turn.id,
        "body": {
            "id": turn.id, "question": "Where is my refund?", "agent_response": "It was sent on Monday.",
            "user_id": "42", "session_id": "s-1", "signals": {"thumbs_down": True},
            "history": [{"role": "user", "content": "hi"}], "prompt_version": "v12", "model": "gpt-4o",
            "retrieved": [{"doc": "refunds.md"}], "tool_calls": [], "metadata": {"plan": "pro"},
            "variant": "B", "timestamp": "2025-03-01T12:30:00+00:00",
            "steps": [{"id": "1", "kind": "llm", "name": "answer", "started_at": "2025-03-01T12:30:00+00:00",
                       "ended_at": "2025-03-01T12:30:02+00:00", "input": "q", "output": "a"}],
        },
    }
    assert isinstance(turn, Turn)
    assert str(uuid.UUID(turn.id)) == turn.id
    assert turn.user_id == "42"


def test_a_minimal_turn_carries_its_id_and_the_time_it_was_logged(server, make_client):
    loop = make_client()
    before = dt.datetime.now(dt.timezone.utc)

    turn = loop.log_turn(question="q")

    assert loop.flush(timeout=5) is True
    body = server.ingests[0].items[0]["body"]
    assert set(body) == {"id", "question", "timestamp"}
    assert body["id"] == turn.id
    assert before <= dt.datetime.fromisoformat(body["timestamp"]) <= dt.datetime.now(dt.timezone.utc)


def test_timestamps_as_strings_and_unix_seconds_and_given_ids(server, make_client):
    loop = make_client()

    loop.log_turn(question="a", timestamp="2025-01-01T00:00:00Z", id=uuid.UUID(int=1))
    loop.log_turn(question="b", timestamp=1735689600, id="00000000-0000-4000-8000-000000000002")

    assert loop.flush(timeout=5) is True
    bodies = [item["body"] for item in server.ingests[0].items]
    assert [(b["id"], b["timestamp"]) for b in bodies] == [
        ("00000000-0000-0000-0000-000000000001", "2025-01-01T00:00:00Z"),
        ("00000000-0000-4000-8000-000000000002", "2025-01-01T00:00:00+00:00"),
    ]


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_values_json_cannot_encode_are_converted_not_fatal(server, make_client):
    loop = make_client()
    cycle: list = []
    cycle.append(cycle)

    loop.log_turn(question="q", metadata={
        "uuid": uuid.UUID(int=7), "date": dt.date(2025, 1, 2), "decimal": decimal.Decimal("1.5"),
        "set": {3}, "bytes": b"raw", "nan": float("nan"), "inf": float("-inf"), "cycle": cycle,
        "object": Unprintable(), 5: "int key",
    })

    assert loop.flush(timeout=5) is True
    assert server.ingests[0].items[0]["body"]["metadata"] == {
        "uuid": "00000000-0000-0000-0000-000000000007", "date": "2025-01-02", "decimal": "1.5", "set": [3],
        "bytes": "raw", "nan": None, "inf": None, "cycle": ["<circular>"], "object": "<unserializable>",
        "5": "int key",
    }


def test_unknown_keyword_arguments_land_in_metadata_with_one_warning(server, make_client, caplog):
    loop = make_client()

    with caplog.at_level(logging.WARNING, logger="agentloop"):
        loop.log_turn(question="q", metadata={"a": 1}, agent_reponse="typo")
        loop.log_turn(question="q", agent_reponse="again")

    assert loop.flush(timeout=5) is True
    assert [item["body"]["metadata"] for item in server.ingests[0].items] == [
        {"a": 1, "agent_reponse": "typo"}, {"agent_reponse": "again"},
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "agentloop: log_turn() has no argument 'agent_reponse'; it is kept in metadata"
    ]


def test_feedback_and_signal_bodies(server, make_client):
    loop = make_client()
    turn = loop.log_turn(question="q")

    feedback_id = loop.feedback(turn, rating="down", comment="wrong", correction="right",
                                signals={"escalation": True}, user_id=7)
    loop.feedback(turn.id, rating=4, id="00000000-0000-4000-8000-00000000000f")
    loop.signal(turn.id, "rephrase", value=0.8, dedupe_key="msg-2")
    loop.signal(uuid.UUID(turn.id), "abandonment")

    assert loop.flush(timeout=5) is True
    items = [item for request in server.ingests for item in request.items]
    assert [(i["type"], i["body"]) for i in items[1:]] == [
        ("feedback", {"turn_id": turn.id, "id": feedback_id, "rating": "down", "comment": "wrong",
                      "correction": "right", "signals": {"escalation": True}, "user_id": "7"}),
        ("feedback", {"turn_id": turn.id, "id": "00000000-0000-4000-8000-00000000000f", "rating": 4}),
        ("signal", {"turn_id": turn.id, "kind": "rephrase", "value": 0.8, "dedupe_key": "msg-2"}),
        ("signal", {"turn_id": turn.id, "kind": "abandonment", "value": True, "dedupe_key": ""}),
    ]
    assert items[1]["id"] == feedback_id
    assert len({item["id"] for item in items}) == 5


def test_log_turn_if_logs_only_when_the_condition_is_truthy(server, make_client):
    loop = make_client()

    skipped = loop.log_turn_if(False, question="skipped")
    empty = loop.log_turn_if([], question="skipped too")
    confidence = 0.3
    logged = loop.log_turn_if(confidence < 0.5, question="logged", user_id="u")

    assert loop.flush(timeout=5) is True
    assert skipped is None
    assert empty is None
    assert isinstance(logged, Turn)
    assert server.committed_ids() == [logged.id]
    assert loop.stats["queued"] == 1


class AmbiguousTruth:
    def __bool__(self) -> bool:
        raise ValueError("ambiguous")


def test_log_turn_if_with_an_ambiguous_condition_logs_nothing_and_does_not_raise(server, make_client):
    loop = make_client()

    assert loop.log_turn_if(AmbiguousTruth(), question="q") is None
    assert loop.stats["queued"] == 0


def test_disabled_client_returns_turns_and_sends_nothing(server, monkeypatch):
    monkeypatch.setenv("AGENTLOOP_DISABLED", "1")
    by_env = AgentLoop(api_key=server.api_key, host=server.url)
    by_flag = AgentLoop(api_key=server.api_key, host=server.url, project_id="p", enabled=False)

    turns = [client.log_turn(question="q", user_id="u") for client in (by_env, by_flag)]
    by_flag.feedback(turns[1], rating="up")
    by_flag.signal(turns[1], "thumbs_up")

    assert by_env.flush() is True
    assert by_flag.flush() is True
    by_env.shutdown()
    by_flag.shutdown()
    assert [type(turn) for turn in turns] == [Turn, Turn]
    assert turns[0].feedback_url is None  # no project id and no network when disabled
    assert turns[1].feedback_url.startswith(server.url + "/f/")
    assert by_env._sender.thread is None and by_flag._sender.thread is None
    assert server.requests == []


def test_lists_and_dicts_are_copied_when_logged(server, make_client):
    loop = make_client(flush_interval=60)
    history = [{"role": "user", "content": "hi"}]
    metadata = {"plan": "pro"}

    loop.log_turn(question="q", history=history, metadata=metadata)
    history.append({"role": "assistant", "content": "added after logging"})
    metadata["plan"] = "free"

    assert loop.flush(timeout=5) is True
    body = server.ingests[0].items[0]["body"]
    assert body["history"] == [{"role": "user", "content": "hi"}]
    assert body["metadata"] == {"plan": "pro"}


def test_a_lone_surrogate_is_replaced_so_the_rest_of_the_batch_is_delivered(server, make_client):
    loop = make_client(flush_interval=60)

    broken = loop.log_turn(question="half an emoji \ud83d")
    fine = loop.log_turn(question="¿qué tal? 🙂")

    assert loop.flush(timeout=5) is True
    assert [item["body"]["question"] for item in server.ingests[0].items] == ["half an emoji ?", "¿qué tal? 🙂"]
    assert server.committed_ids() == [broken.id, fine.id]


def test_client_made_ids_are_distinct_version_4_uuids(server, make_client):
    loop = make_client(enabled=False)

    ids = [loop.log_turn(question="q").id for _ in range(5000)]

    assert len(set(ids)) == 5000
    assert {uuid.UUID(turn_id).version for turn_id in ids} == {4}
    assert all(str(uuid.UUID(turn_id)) == turn_id for turn_id in ids)
