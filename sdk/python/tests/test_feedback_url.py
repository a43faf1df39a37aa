"""The project id for feedback URLs: given, learned in the background, or fetched on first read."""

from __future__ import annotations

from conftest import API_KEY, KEY_ID, PROJECT_ID

from agentloop.signing import derive_signing_key, feedback_url


def test_the_sender_learns_the_project_once_so_reading_the_url_needs_no_request(server, make_client):
    loop = make_client(project_id=None)

    loop.log_turn(question="warm-up")
    assert loop.flush(timeout=5) is True
    turns = [loop.log_turn(question="q", user_id="u") for _ in range(3)]
    urls = [turn.feedback_url for turn in turns]

    assert loop.project_id == PROJECT_ID
    assert len(server.auth_checks) == 1
    assert server.auth_checks[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert urls[0] == feedback_url(host=server.url, signing_key=derive_signing_key(API_KEY),
                                   exp=turns[0].expires_at, key_id=KEY_ID, project_id=PROJECT_ID,
                                   turn_id=turns[0].id, user_id="u")


def test_first_read_before_the_project_is_known_fetches_it_once(server, make_client):
    loop = make_client(project_id=None, flush_interval=60)  # the sender stays asleep

    first, second = loop.log_turn(question="a"), loop.log_turn(question="b")

    assert first.feedback_url.startswith(server.url + "/f/")
    assert second.feedback_url.startswith(server.url + "/f/")
    assert first.feedback_url == first.feedback_url
    assert len(server.auth_checks) == 1


def test_with_project_id_given_there_is_no_auth_check(server, make_client):
    loop = make_client()

    turn = loop.log_turn(question="q")
    assert turn.feedback_url
    loop.flush(timeout=5)

    assert server.auth_checks == []


def test_an_unreachable_server_gives_no_url_and_no_exception(unused_port):
    from agentloop import AgentLoop

    loop = AgentLoop(api_key=API_KEY, host=f"http://127.0.0.1:{unused_port}", flush_interval=60, timeout=1)

    turn = loop.log_turn(question="q")

    assert turn.feedback_url is None
    loop.shutdown(timeout=0.5)


def test_a_rejected_key_gives_no_url(server, make_client):
    loop = make_client(api_key=f"al_sk_{KEY_ID}_wrong-secret", project_id=None, flush_interval=60)

    turn = loop.log_turn(question="q")

    assert turn.feedback_url is None
    assert turn.feedback_url is None
    assert len(server.auth_checks) == 1  # a rejected key is not asked again at once
