import base64
import json
import time
import uuid
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from apps.feedback.signing import encode_payload, make_token, sign_payload
from apps.projects.models import derive_signing_key
from apps.traces.models import Feedback, Signal
from tests.factories.projects import api_key_with_secret

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "sdk/test-vectors/feedback-url.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_server_signing_matches_every_shared_vector(vector):
    given = vector["input"]

    signing_key = derive_signing_key(given["api_key"])
    payload = encode_payload(exp=given["exp"], key_id=given["key_id"], project_id=given["project_id"],
                             turn_id=given["turn_id"], user_id=given["user_id"])

    assert signing_key.hex() == vector["signing_key_hex"]
    assert payload == vector["payload"]
    assert sign_payload(payload, signing_key) == vector["signature"]
    assert vector["url"] == f"{given['host'].rstrip('/')}/f/{payload}.{vector['signature']}"


@pytest.fixture
def key(project):
    return api_key_with_secret(project=project)


def _token(key, *, turn_id=None, user_id="user-1", exp=None):
    api_key, _ = key
    return make_token(
        signing_key=api_key.link_signing_key(), exp=exp or int(time.time()) + 3600, key_id=api_key.key_id,
        project_id=str(api_key.project_id), turn_id=str(turn_id or uuid.uuid4()), user_id=user_id,
    )


@pytest.mark.django_db
def test_widget_form_renders_without_login_and_inside_an_iframe(key):
    response = Client().get(f"/f/{_token(key)}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Was this answer helpful?" in html
    assert 'name="rating" value="down"' in html
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_submitting_twice_updates_one_feedback_and_its_signal(key, project):
    turn_id = uuid.uuid4()
    url = f"/f/{_token(key, turn_id=turn_id)}"

    first = Client().post(url, {"rating": "down", "comment": "wrong answer"})
    second = Client().post(url, {"rating": "up", "comment": "actually fine", "correction": ""})

    feedback = Feedback.objects.for_project(project).get()
    assert (first.status_code, second.status_code) == (200, 200)
    assert "Thank you!" in second.content.decode()
    assert (feedback.turn_id, feedback.rating, feedback.comment, feedback.source, feedback.end_user_id) == (
        turn_id, "up", "actually fine", "widget", "user-1"
    )
    assert list(Signal.objects.for_project(project).values_list("kind", "source")) == [("thumbs_up", "widget")]


@pytest.mark.django_db
def test_json_post_for_the_browser_sdk(key, project):
    url = f"/f/{_token(key)}"

    preflight = Client().options(url)
    response = Client().post(url, data=json.dumps({"rating": "down", "correction": "Say X"}), content_type="application/json")

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["state"] == "waiting"
    assert Feedback.objects.for_project(project).get().correction == "Say X"


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), [
    (b'{"rating": "down"', "malformed_json"),
    (b'{"rating": "down", "comment": "\\ud800"}', "invalid_unicode"),  # a lone surrogate
    (b'["down"]', "malformed_json"),
])
def test_a_bad_json_post_gets_a_stable_code_and_stores_nothing(key, project, body, code):
    response = Client().post(f"/f/{_token(key)}", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert Feedback.objects.for_project(project).count() == 0


@pytest.mark.django_db
def test_a_nul_character_in_a_json_post_is_dropped(key, project):
    body = json.dumps({"rating": "down", "comment": "bad\u0000 answer"})

    response = Client().post(f"/f/{_token(key)}", data=body, content_type="application/json")

    assert response.status_code == 200
    assert Feedback.objects.for_project(project).get().comment == "bad answer"


@pytest.mark.django_db
def test_empty_submission_is_a_readable_error_and_stores_nothing(key, project):
    response = Client().post(f"/f/{_token(key)}", {"rating": "", "comment": ""})

    assert response.status_code == 400
    assert "Choose helpful or not helpful, or write a comment." in response.content.decode()
    assert Feedback.objects.for_project(project).count() == 0


@pytest.mark.django_db
def test_tampered_signature_expired_link_and_revoked_key_each_get_their_page(key, project):
    good = _token(key)
    payload, signature = good.split(".")
    tampered = f"{payload}.{signature[:-2]}AA"
    expired = _token(key, exp=int(time.time()) - 1)

    responses = {
        "tampered": Client().get(f"/f/{tampered}"),
        "malformed": Client().get("/f/not-a-token"),
        "expired": Client().get(f"/f/{expired}"),
    }
    api_key = key[0]
    api_key.revoked_at = timezone.now()
    api_key.save()
    responses["revoked"] = Client().post(f"/f/{good}", {"rating": "down"})

    assert {name: r.status_code for name, r in responses.items()} == {
        "tampered": 403, "malformed": 403, "expired": 410, "revoked": 403,
    }
    assert "This link is not valid" in responses["tampered"].content.decode()
    assert "This link is not valid" in responses["malformed"].content.decode()
    assert "This link has expired" in responses["expired"].content.decode()
    assert "This link was disabled" in responses["revoked"].content.decode()
    assert Feedback.objects.for_project(project).count() == 0


@pytest.mark.django_db
def test_a_link_signed_with_another_projects_key_is_invalid(key, other_project):
    other_key, _ = api_key_with_secret(project=other_project)
    forged = make_token(
        signing_key=other_key.link_signing_key(), exp=int(time.time()) + 60, key_id=key[0].key_id,
        project_id=str(key[0].project_id), turn_id=str(uuid.uuid4()),
    )

    response = Client().get(f"/f/{forged}")

    assert response.status_code == 403


@pytest.mark.django_db
@override_settings(WIDGET_RATE_LIMIT_PER_LINK=2)
def test_submissions_are_rate_limited_per_link(key):
    url = f"/f/{_token(key, user_id=str(uuid.uuid4()))}"

    statuses = [Client().post(url, {"rating": "down"}).status_code for _ in range(3)]
    limited = Client().post(url, {"rating": "down"}, HTTP_ACCEPT="application/json")

    assert statuses == [200, 200, 429]
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


MALFORMED = {
    "no dot": "abc",
    "empty signature": "abc.",
    "not base64url": "a*b.c",
    "payload not json": _b64(b"nope") + ".c",
    "payload not utf8": _b64(b'{"v": "\xff"}') + ".c",
    "payload too deep": _b64(b"[" * 2000 + b"]" * 2000) + ".c",
    "exp is nan": _b64(b'{"exp": NaN, "k": "a", "p": "b", "t": "c", "v": 1}') + ".c",
    "exp out of range": _b64(b'{"exp": 1e999, "k": "a", "p": "b", "t": "c", "v": 1}') + ".c",
    "exp is a string": _b64(b'{"exp": "9", "k": "a", "p": "b", "t": "c", "v": 1}') + ".c",
    "exp is a bool": _b64(b'{"exp": true, "k": "a", "p": "b", "t": "c", "v": 1}') + ".c",
    "ids are numbers": _b64(b'{"exp": 9, "k": 1, "p": 2, "t": 3, "v": 1}') + ".c",
    "missing claims": _b64(b'{"v": 1}') + ".c",
    "unknown version": _b64(b'{"v": 2}') + ".c",
}


@pytest.mark.django_db
@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_link_is_refused_403_like_a_forged_one(token, project):
    page = Client().get(f"/f/{token}")
    posted = Client().post(f"/f/{token}", data=json.dumps({"rating": "down"}), content_type="application/json")

    assert page.status_code == 403
    assert "This link is not valid" in page.content.decode()
    assert (posted.status_code, posted.json()) == (
        403, {"code": "link_malformed", "message": "This feedback link is not valid.", "field": None},
    )
    assert Feedback.objects.for_project(project).count() == 0


@pytest.mark.django_db
def test_a_link_signed_to_expire_in_year_9999_is_refused(key, project):
    token = _token(key, exp=253402300799)

    page = Client().get(f"/f/{token}")
    posted = Client().post(f"/f/{token}", {"rating": "down"}, HTTP_ACCEPT="application/json")

    assert page.status_code == 403
    assert "This link is not valid" in page.content.decode()
    assert (posted.status_code, posted.json()) == (403, {
        "code": "link_lifetime_too_long", "message": "This feedback link is not valid: it would stay open for too long.",
        "field": None,
    })
    assert Feedback.objects.for_project(project).count() == 0


@pytest.mark.django_db
def test_the_link_lifetime_cap_is_90_days_from_now_and_configurable(key, settings):
    within = _token(key, exp=int(time.time()) + 90 * 24 * 3600 - 60)
    beyond = _token(key, exp=int(time.time()) + 90 * 24 * 3600 + 60)

    statuses = [Client().get(f"/f/{within}").status_code, Client().get(f"/f/{beyond}").status_code]
    settings.FEEDBACK_LINK_MAX_TTL_SECONDS = 3600
    shortened = Client().get(f"/f/{_token(key, exp=int(time.time()) + 7200)}").status_code

    assert statuses == [200, 403]
    assert shortened == 403
