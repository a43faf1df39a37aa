"""The LLM judge against a local stand-in: a real HTTP server thread speaking chat completions."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score

from apps.core.audit import SYSTEM
from apps.detection import judge, selectors
from apps.detection.models import JudgeSettings, JudgeUsage, JudgeVerdict
from apps.detection.services import judge as services
from apps.detection.tasks import judge_task
from apps.traces.models import Signal
from tests.factories.traces import SignalFactory, TurnFactory

pytestmark = pytest.mark.django_db


class _StandIn(http.server.BaseHTTPRequestHandler):
    """Answers from ``replies`` in order (status, content or raw body), then a positive verdict."""

    replies: list = []
    seen: list = []
    delay = 0.0
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with type(self).lock:
            type(self).seen.append((body, self.headers.get("Authorization", "")))
            status, content = type(self).replies.pop(0) if type(self).replies else (200, _verdict(True))
        time.sleep(type(self).delay)
        raw = content if isinstance(content, bytes) else json.dumps({
            "choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        }).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up (the timeout test)

    def log_message(self, *args):
        pass


def _verdict(value: bool, confidence: float = 0.9) -> str:
    return json.dumps({"verdict": value, "confidence": confidence, "reason": "asks for a person"})


@pytest.fixture
def stand_in(settings, monkeypatch):
    settings.ALLOW_PRIVATE_ENDPOINTS = True
    monkeypatch.setattr(judge, "TIMEOUT_SECONDS", 0.3)
    _StandIn.replies, _StandIn.seen, _StandIn.delay = [], [], 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1/chat/completions"
    server.shutdown()


def _configure(project, url, **overrides):
    fields = dict(
        enabled=True, endpoint_url=url, model="judge-mini", api_key="sk-judge", signal_kinds=["escalation"], prompts={},
        requests_per_minute=600, turns_per_day=1000, price_per_1k_tokens="0.5",
    )
    fields.update(overrides)
    return services.judge_settings_update(project=project, actor=SYSTEM, **fields)


def _judge_signals(project):
    return list(Signal.objects.for_project(project).filter(source="llm_judge").values_list("kind", "value"))


def test_the_judge_is_off_by_default_and_sends_nothing(project, stand_in):
    turn = TurnFactory(project=project)

    run = services.judge_turns(project=project, turn_ids=[turn.id])

    assert selectors.judge_settings_get(project=project).enabled is False
    assert run.judged == 0 and _StandIn.seen == []


def test_a_positive_verdict_is_a_signal_with_confidence_reason_and_its_cost_counted(project, stand_in):
    _configure(project, stand_in)
    turn = TurnFactory(project=project, input="can I talk to a human", output="I cannot help with that.")

    judge_task(project_id=str(project.pk), turn_ids=[str(turn.id)])
    judge_task(project_id=str(project.pk), turn_ids=[str(turn.id)])

    assert _judge_signals(project) == [("escalation", {"confidence": 0.9, "reason": "asks for a person", "model": "judge-mini"})]
    assert len(_StandIn.seen) == 1  # the second run was a cache hit
    sent, authorization = _StandIn.seen[0]
    assert authorization == "Bearer sk-judge"
    assert sent["model"] == "judge-mini"
    assert "can I talk to a human" in sent["messages"][1]["content"]
    usage = JudgeUsage.objects.for_project(project).get()
    assert (usage.turns, usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 1, 120, 30)
    assert usage.cost == Decimal("0.075000")  # 150 tokens at 0.5 per 1k


def test_a_negative_verdict_is_cached_but_is_not_a_signal(project, stand_in):
    _configure(project, stand_in)
    turn = TurnFactory(project=project)
    _StandIn.replies = [(200, _verdict(False, 0.8))]

    run = services.judge_turns(project=project, turn_ids=[turn.id])
    again = services.judge_turns(project=project, turn_ids=[turn.id])

    assert (run.judged, run.positive, again.cached, again.judged) == (1, 0, 1, 0)
    assert _judge_signals(project) == []
    assert list(JudgeVerdict.objects.for_project(project).values_list("verdict", "confidence")) == [(False, 0.8)]


def test_a_changed_prompt_is_a_cache_miss(project, stand_in):
    _configure(project, stand_in)
    turn = TurnFactory(project=project)
    services.judge_turns(project=project, turn_ids=[turn.id])

    _configure(project, stand_in, prompts={"escalation": "Does the user want a human? Be strict."})
    services.judge_turns(project=project, turn_ids=[turn.id])

    assert len(_StandIn.seen) == 2
    assert _StandIn.seen[1][0]["messages"][0]["content"].startswith("Does the user want a human? Be strict.")
    assert len(_judge_signals(project)) == 1  # one judge signal per turn and kind


def test_a_500_then_success_is_retried(project, stand_in):
    _configure(project, stand_in)
    turn = TurnFactory(project=project)
    _StandIn.replies = [(500, b"oops"), (200, _verdict(True))]

    run = services.judge_turns(project=project, turn_ids=[turn.id])

    assert (run.judged, run.failed, len(_StandIn.seen)) == (1, 0, 2)
    assert len(_judge_signals(project)) == 1


def test_a_timeout_on_every_attempt_is_counted_and_nothing_stored(project, stand_in):
    _configure(project, stand_in)
    turn = TurnFactory(project=project)
    _StandIn.delay = 1.0

    run = services.judge_turns(project=project, turn_ids=[turn.id])

    assert (run.judged, run.failed, len(_StandIn.seen)) == (0, 1, judge.ATTEMPTS)
    assert JudgeVerdict.objects.for_project(project).count() == 0 and _judge_signals(project) == []
    assert JudgeUsage.objects.for_project(project).get().failures == 1


@pytest.mark.parametrize("content", [
    "Yes, the user wants a human.",
    '{"verdict": "yes", "confidence": 0.9, "reason": "x"}',
    '{"verdict": true, "confidence": 7, "reason": "x"}',
    '{"verdict": true}',
    b"<html>not json</html>",
    b'{"choices": []}',
])
def test_a_malformed_reply_is_logged_and_counted_never_stored(project, stand_in, content, caplog):
    _configure(project, stand_in)
    turn = TurnFactory(project=project)
    _StandIn.replies = [(200, content)]

    run = services.judge_turns(project=project, turn_ids=[turn.id])

    assert (run.judged, run.malformed) == (0, 1)
    assert JudgeVerdict.objects.for_project(project).count() == 0 and _judge_signals(project) == []
    assert JudgeUsage.objects.for_project(project).get().malformed == 1
    assert "malformed" in caplog.text


def test_a_fenced_json_reply_is_accepted():
    body = json.dumps({"choices": [{"message": {"content": '```json\n{"verdict": false, "confidence": 0.2, "reason": "fine\\u0000"}\n```'}}]})

    verdict = judge.parse_reply(body.encode())

    assert (verdict.verdict, verdict.confidence, verdict.reason, verdict.prompt_tokens) == (False, 0.2, "fine", 0)


def test_the_rate_limit_defers_what_the_bucket_cannot_pay_for(project, stand_in):
    _configure(project, stand_in, requests_per_minute=2)
    turns = [TurnFactory(project=project) for _ in range(3)]

    run = services.judge_turns(project=project, turn_ids=[t.id for t in turns])

    assert (run.judged, len(_StandIn.seen)) == (2, 2)
    assert len(run.deferred) == 1 and 25 <= run.retry_in <= 31  # two a minute: the next token in ~30 s
    assert JudgeUsage.objects.for_project(project).get().turns == 2  # the deferred turn's budget given back


def test_an_exhausted_daily_budget_sends_nothing_more(project, stand_in):
    _configure(project, stand_in, turns_per_day=2)
    turns = [TurnFactory(project=project) for _ in range(3)]

    first = services.judge_turns(project=project, turn_ids=[t.id for t in turns])
    second = services.judge_turns(project=project, turn_ids=[t.id for t in turns])

    assert (first.judged, first.over_budget) == (2, 1)
    assert (second.judged, second.cached, second.over_budget) == (0, 2, 1)
    assert len(_StandIn.seen) == 2


def test_test_connection_sends_one_sample_and_names_a_failure(project, stand_in):
    _configure(project, stand_in)
    _StandIn.replies = [(200, _verdict(True)), (200, "no json here")]

    verdict = services.judge_test_connection(project=project)
    with pytest.raises(services.JudgeUnavailable, match="not with a verdict"):
        services.judge_test_connection(project=project)

    assert verdict.verdict is True and len(_StandIn.seen) == 2
    assert JudgeVerdict.objects.for_project(project).count() == 0


def test_the_key_is_sealed_at_rest_and_kept_when_not_given(project, stand_in):
    _configure(project, stand_in)

    _configure(project, stand_in, api_key=None, model="judge-large")

    row = JudgeSettings.objects.for_project(project).get()
    assert b"sk-judge" not in bytes(row.api_key)
    assert row.api_key_plain() == "sk-judge" and row.model == "judge-large"


@pytest.mark.parametrize("overrides, field", [
    ({"endpoint_url": "http://127.0.0.1:9/v1"}, "endpoint_url"),  # private endpoints not allowed here
    ({"signal_kinds": ["thumbs_down"]}, "signal_kinds"),
    ({"requests_per_minute": 0}, "requests_per_minute"),
    ({"price_per_1k_tokens": "NaN"}, "price_per_1k_tokens"),
    ({"model": "m\x00"}, "model"),
    ({"enabled": True, "model": ""}, "enabled"),
])
def test_bad_settings_are_refused_and_change_nothing(project, settings, overrides, field):
    settings.ALLOW_PRIVATE_ENDPOINTS = False
    fields = dict(endpoint_url="", model="m", api_key="", signal_kinds=["escalation"], enabled=False)
    fields.update(overrides)

    with pytest.raises(services.ValidationFailed) as error:
        _configure(project, "", **fields)

    assert error.value.field == field
    assert not JudgeSettings.objects.for_project(project).exists()


def test_agreement_counts_the_four_cells_and_kappa_matches_scikit_learn(project, stand_in):
    _configure(project, stand_in)
    turns = [TurnFactory(project=project) for _ in range(6)]
    judge_says = [True, True, False, False, True, False]
    rule_says = [True, False, True, False, True, False]
    for turn, fired in zip(turns, rule_says):
        if fired:
            SignalFactory(turn=turn, kind="escalation", source="detector", dedupe_key="escalation")
    _StandIn.replies = [(200, _verdict(value)) for value in judge_says]
    services.judge_turns(project=project, turn_ids=[t.id for t in turns])
    _StandIn.replies = []

    rows = selectors.judge_agreement(project=project, settings=selectors.judge_settings_get(project=project))

    # Concurrent requests take the replies in any order: compare against the stored verdicts.
    stored = dict(JudgeVerdict.objects.for_project(project).values_list("turn_id", "verdict"))
    judged = [stored[t.id] for t in turns]
    assert sorted(judged) == sorted(judge_says)
    row = rows[0]
    assert row["judged"] == 6
    assert row["both"] == sum(j and r for j, r in zip(judged, rule_says))
    assert row["neither"] == sum(not j and not r for j, r in zip(judged, rule_says))
    assert row["kappa"] == pytest.approx(cohen_kappa_score(judged, rule_says))


def test_the_demo_seeds_past_verdicts_through_the_run_writer_once(project):
    from apps.demo.judge import seed_judge_demo

    flagged = [TurnFactory(project=project) for _ in range(10)]
    for turn in flagged:
        SignalFactory(turn=turn, kind="escalation", source="detector", dedupe_key="escalation")
    [TurnFactory(project=project) for _ in range(5)]

    first = seed_judge_demo(project=project)
    second = seed_judge_demo(project=project)

    settings = selectors.judge_settings_get(project=project)
    rows = {row["kind"]: row for row in selectors.judge_agreement(project=project, settings=settings)}
    assert settings.enabled is False and second == 0
    assert first == len(_judge_signals(project)) > 0
    assert rows["escalation"]["judged"] == 15 and rows["escalation"]["both"] + rows["escalation"]["rule_only"] == 10
    assert rows["agent_punted"]["judged"] == 15 and rows["agent_punted"]["rule_only"] == 0  # no punts flagged
    assert JudgeUsage.objects.for_project(project).get().requests == 30


def test_a_detection_pass_publishes_the_judge_only_when_it_is_on(project, stand_in, monkeypatch):
    from apps.detection.services import run as run_services

    published = []
    monkeypatch.setattr(run_services, "judge_enqueue", lambda **kwargs: published.append(kwargs))
    earlier = TurnFactory(project=project, session_id="s1", created_at=timezone.now() - dt.timedelta(minutes=2))
    last = TurnFactory(project=project, session_id="s1")
    run_services.detect_sessions(project=project, session_ids=["s1"])
    _configure(project, stand_in)

    run_services.detect_sessions(project=project, session_ids=["s1"])

    # The session's last turn waits for its abandonment window: judged on its recheck pass.
    assert published == [{"project_id": project.pk, "turn_ids": [earlier.id]}] and last.id not in published[0]["turn_ids"]
