"""API keys look like al_sk_<key id>_<secret>; the key id has no underscore, the secret may."""

from __future__ import annotations

import logging

import pytest

from agentloop import AgentLoop
from agentloop.signing import parse_api_key


@pytest.mark.parametrize(
    ("api_key", "expected"),
    [
        ("al_sk_a1b2c3d4e5f6_secret", ("a1b2c3d4e5f6", "secret")),
        ("al_sk_a1b2c3d4e5f6_se_cr_et", ("a1b2c3d4e5f6", "se_cr_et")),
        ("al_sk_abc_-dash-_under_", ("abc", "-dash-_under_")),
        ("al_sk_abc__leading", ("abc", "_leading")),
        ("al_sk_0f0e0d0c0b0a_clé-secrète", ("0f0e0d0c0b0a", "clé-secrète")),
    ],
)
def test_parse_api_key_splits_key_id_and_secret(api_key, expected):
    assert parse_api_key(api_key) == expected


@pytest.mark.parametrize(
    "api_key",
    ["", "sk-abc", "al_sk_", "al_sk_abc", "al_sk_abc_", "al_sk__secret", "AL_SK_abc_secret", "al_pk_abc_secret", None],
)
def test_parse_api_key_rejects_malformed_keys(api_key):
    with pytest.raises(ValueError):
        parse_api_key(api_key)


def test_a_malformed_key_disables_the_client_without_raising(caplog, unused_port):
    with caplog.at_level(logging.ERROR, logger="agentloop"):
        loop = AgentLoop(api_key="sk-not-an-agentloop-key", host=f"http://127.0.0.1:{unused_port}",
                         project_id="p")

    turn = loop.log_turn(question="q", agent_response="a")

    assert loop.enabled is False
    assert turn.feedback_url is None
    assert loop.flush(timeout=1) is True
    assert loop.stats == {"queued": 0, "sent": 0, "dropped": 0, "retries": 0, "failed": 0}
    assert [r.getMessage() for r in caplog.records if r.name == "agentloop"] == [
        "AgentLoop API key is missing or malformed (expected al_sk_<key id>_<secret>); nothing will be sent"
    ]


def test_key_and_host_default_to_the_environment(monkeypatch, server):
    monkeypatch.setenv("AGENTLOOP_API_KEY", server.api_key)
    monkeypatch.setenv("AGENTLOOP_HOST", server.url + "/")
    loop = AgentLoop(project_id="p", flush_interval=0.05)

    loop.log_turn(question="q", agent_response="a", id="00000000-0000-4000-8000-000000000001")

    assert loop.flush(timeout=5) is True
    assert loop.host == server.url
    assert server.committed_ids() == ["00000000-0000-4000-8000-000000000001"]
    loop.shutdown()
