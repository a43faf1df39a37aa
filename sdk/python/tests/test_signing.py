"""The SDK signs feedback URLs byte-for-byte like the server: every shared vector must match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import agentloop.client
from agentloop import AgentLoop
from agentloop.signing import derive_signing_key, encode_payload, feedback_url, sign_payload

VECTORS_FILE = Path(__file__).resolve().parents[2] / "test-vectors" / "feedback-url.json"
VECTORS = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"]


def test_the_shared_file_holds_all_fourteen_vectors():
    assert len(VECTORS) == 14
    assert len({vector["name"] for vector in VECTORS}) == 14


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_signing_functions_match_the_vector(vector):
    given = vector["input"]

    signing_key = derive_signing_key(given["api_key"])
    payload = encode_payload(exp=given["exp"], key_id=given["key_id"], project_id=given["project_id"],
                             turn_id=given["turn_id"], user_id=given["user_id"])
    signature = sign_payload(payload, signing_key)
    url = feedback_url(host=given["host"], signing_key=signing_key, exp=given["exp"], key_id=given["key_id"],
                       project_id=given["project_id"], turn_id=given["turn_id"], user_id=given["user_id"])

    assert signing_key.hex() == vector["signing_key_hex"]
    assert payload == vector["payload"]
    assert signature == vector["signature"]
    assert url == vector["url"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_log_turn_feedback_url_matches_the_vector(vector, monkeypatch):
    given = vector["input"]
    ttl = 30 * 86400
    monkeypatch.setattr(agentloop.client, "_clock", lambda: float(given["exp"] - ttl))
    loop = AgentLoop(api_key=given["api_key"], host=given["host"], project_id=given["project_id"],
                     feedback_link_ttl=ttl, enabled=False)

    turn = loop.log_turn(question="q", agent_response="a", user_id=given["user_id"] or None, id=given["turn_id"])

    assert turn.id == given["turn_id"]
    assert turn.expires_at == given["exp"]
    assert turn.feedback_url == vector["url"]
