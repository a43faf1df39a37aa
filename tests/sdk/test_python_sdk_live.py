"""The Python SDK (sdk/python) against this server: real ingestion, signed URLs, retries."""

from __future__ import annotations

import datetime as dt
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agentloop import AgentLoop

from apps.feedback.signing import read_claims, signature_matches
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

FORWARDED_HEADERS = ("Authorization", "Content-Type", "Content-Encoding", "User-Agent", "Accept")


class FlakyProxy:
    """Sits between the SDK and the live server. The first ``refuse`` ingest requests get a 503
    without reaching the server; the next ``lose`` reach it (and are committed) but the SDK gets
    a 503 anyway, as when an acknowledgement is lost on the way back."""

    def __init__(self, upstream: str, *, refuse: int = 0, lose: int = 0) -> None:
        self.upstream, self.refuse, self.lose = upstream, refuse, lose
        self.ingests = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                with proxy.lock:
                    number = proxy.ingests = proxy.ingests + (self.path == "/api/v1/ingest")
                if self.path == "/api/v1/ingest" and number <= proxy.refuse:
                    return self._answer(503, {"Retry-After": "0"}, b"")
                status, headers, content = proxy.forward(
                    self.command, self.path, self.headers, body
                )
                if self.path == "/api/v1/ingest" and number <= proxy.refuse + proxy.lose:
                    return self._answer(503, {"Retry-After": "0"}, b"")
                self._answer(status, headers, content)

            def _answer(self, status: int, headers: dict, content: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def forward(
        self, method: str, path: str, headers, body: bytes | None
    ) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(
            self.upstream + path,
            data=body,
            method=method,
            headers={name: headers[name] for name in FORWARDED_HEADERS if headers.get(name)},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return (
                    response.status,
                    {"Content-Type": response.headers.get("Content-Type", "")},
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            return error.code, {"Content-Type": error.headers.get("Content-Type", "")}, error.read()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sdk_client():
    clients = []

    def make(**options) -> AgentLoop:
        client = AgentLoop(**{"flush_interval": 0.05, **options})
        client.retry_backoff_base = 0.01
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2)


@pytest.mark.django_db(transaction=True)
def test_python_sdk_against_a_live_server(live_server, project, sdk_client):
    api_key, secret = api_key_with_secret(project=project)
    # No project_id: the client learns it from /api/v1/auth/check.
    loop = sdk_client(api_key=secret, host=live_server.url)
    started = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)

    turn = loop.log_turn(
        question="live question",
        agent_response="live answer",
        user_id="live-user",
        session_id="live-session",
        signals={"thumbs_down": True},
        model="live-model",
        prompt_version="live-v1",
        variant="B",
        history=[{"role": "user", "content": "earlier"}],
        metadata={"plan": "pro"},
        timestamp=started,
        steps=[
            {
                "id": "llm-1",
                "kind": "llm",
                "name": "live-llm-call",
                "started_at": started,
                "ended_at": started + dt.timedelta(seconds=2),
                "input": "prompt",
                "output": "live answer",
            }
        ],
    )
    feedback_id = loop.feedback(
        turn, rating="down", comment="live feedback comment", correction="live correction"
    )
    loop.signal(turn, "escalation")
    drained = loop.flush(timeout=30)
    url = turn.feedback_url

    assert drained is True
    assert loop.stats == {"queued": 3, "sent": 3, "dropped": 0, "retries": 0, "failed": 0}
    assert loop.project_id == str(project.pk)
    stored = Turn.objects.for_project(project).get()
    assert (str(stored.id), stored.input, stored.output, stored.end_user_id, stored.session_id) == (
        turn.id,
        "live question",
        "live answer",
        "live-user",
        "live-session",
    )
    assert (stored.model, stored.prompt_version, stored.variant, stored.metadata) == (
        "live-model",
        "live-v1",
        "B",
        {"plan": "pro"},
    )
    step = Step.objects.for_project(project).get()
    assert (str(step.turn_id), step.span_id, step.name, step.kind) == (
        turn.id,
        "llm-1",
        "live-llm-call",
        "llm",
    )
    assert step.duration_ms == 2000
    # thumbs_down twice: from the turn's signals and from the "down" feedback
    assert sorted(Signal.objects.for_project(project).values_list("kind", flat=True)) == [
        "escalation",
        "thumbs_down",
        "thumbs_down",
    ]
    feedback = Feedback.objects.for_project(project).get()
    assert (
        str(feedback.id),
        str(feedback.turn_id),
        feedback.rating,
        feedback.comment,
        feedback.correction,
    ) == (feedback_id, turn.id, "down", "live feedback comment", "live correction")
    claims, payload, signature = read_claims(url.rsplit("/f/", 1)[1])
    assert (claims.turn_id, claims.user_id, claims.project_id, claims.key_id) == (
        turn.id,
        "live-user",
        str(project.pk),
        api_key.key_id,
    )
    assert signature_matches(payload, signature, api_key.link_signing_key())
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200


@pytest.mark.django_db(transaction=True)
def test_python_sdk_retries_through_503_and_lost_acknowledgements_without_duplicates(
    live_server, project, sdk_client
):
    _, secret = api_key_with_secret(project=project)
    proxy = FlakyProxy(live_server.url, refuse=2, lose=2)
    loop = sdk_client(api_key=secret, host=proxy.url, project_id=str(project.pk), flush_interval=60)

    try:
        turns = [
            loop.log_turn(question=f"q{i}", agent_response=f"a{i}", user_id="u", session_id="s")
            for i in range(25)
        ]
        feedback_ids = [loop.feedback(turn, rating="up") for turn in turns[:5]]
        for turn in turns[:5]:
            loop.signal(turn, "thumbs_up")
        drained = loop.flush(timeout=60)
    finally:
        proxy.close()

    assert drained is True
    assert proxy.ingests == 5
    assert loop.stats == {"queued": 35, "sent": 35, "dropped": 0, "retries": 4, "failed": 0}
    assert sorted(
        str(turn_id) for turn_id in Turn.objects.for_project(project).values_list("id", flat=True)
    ) == sorted(turn.id for turn in turns)
    assert sorted(
        str(feedback_id) for feedback_id in Feedback.objects.for_project(project).values_list("id", flat=True)
    ) == sorted(feedback_ids)
    # one thumbs_up per signal() and one per "up" feedback, each stored once despite retries
    assert Signal.objects.for_project(project).filter(kind="thumbs_up").count() == 10


@pytest.mark.django_db(transaction=True)
def test_python_sdk_with_a_revoked_or_wrong_key_fails_without_raising(
    live_server, project, sdk_client
):
    _, secret = api_key_with_secret(project=project)
    errors = []
    loop = sdk_client(api_key=secret[:-4] + "nope", host=live_server.url, on_error=errors.append)

    turn = loop.log_turn(question="q")
    drained = loop.flush(timeout=30)

    assert drained is True
    assert turn.feedback_url is None
    assert loop.stats == {"queued": 1, "sent": 0, "dropped": 0, "retries": 0, "failed": 1}
    assert [error.code for error in errors if error.status == 401] == [
        "unauthorized",
        "unauthorized",
    ]
    assert Turn.objects.for_project(project).count() == 0


@pytest.mark.django_db(transaction=True)
def test_log_turn_if_against_a_live_server_lands_only_true_turns_in_the_catch_all(live_server, project, sdk_client):
    from apps.review.models import ReviewItem
    from apps.review.services.items import review_route_turns
    from apps.review.services.queues import review_default_queue_ensure

    default = review_default_queue_ensure(project=project)
    _, secret = api_key_with_secret(project=project)
    loop = sdk_client(api_key=secret, host=live_server.url)

    skipped = loop.log_turn_if(False, question="fine", agent_response="answer")
    logged = loop.log_turn_if(0.2 < 0.5, question="low confidence", agent_response="maybe")
    assert loop.flush(timeout=30)
    review_route_turns(project=project, turn_ids=[logged.id])

    assert skipped is None
    assert list(Turn.objects.for_project(project).values_list("input", flat=True)) == ["low confidence"]
    items = ReviewItem.objects.for_project(project).values_list("queue_id", "turn_id")
    assert [(queue_id, str(turn_id)) for queue_id, turn_id in items] == [(default.pk, str(logged.id))]
