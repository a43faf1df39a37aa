"""The key-authenticated prompt routes: fetch by label or version with ETag/304, create versions,
move unprotected labels."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from apps.experiments.models import Prompt, PromptLabel, PromptLabelMove, PromptVersion
from apps.governance.models import AuditEvent
from tests.conftest import post_json
from tests.factories.experiments import WEATHER_TOOL, prompt_with_versions


def _put(client, url, body):
    return client.put(url, data=json.dumps(body), content_type="application/json")


def test_fetch_by_label_answers_the_labelled_version_with_a_strong_etag(key_client, project):
    prompt_with_versions(project=project, count=3, labels={"production": 2, "staging": 3})

    response = key_client.get("/api/v1/prompts/support-agent?label=production")

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["version"], body["labels"], body["message"]) == ("support-agent", 2, ["production"], "v2")
    assert (body["template"], body["variables"]) == ("Version 2: help with {{question}}.", ["question"])
    assert body["settings"] == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert body["tools"] == []
    assert set(body) == {"name", "version", "labels", "template", "variables", "tools", "settings", "message", "created_at"}
    assert response["ETag"].startswith('"') and not response["ETag"].startswith("W/")


def test_fetch_by_version_and_latest(key_client, project):
    prompt_with_versions(project=project, count=3, labels={"staging": 3})

    by_number = key_client.get("/api/v1/prompts/support-agent?version=1").json()
    latest = key_client.get("/api/v1/prompts/support-agent").json()

    assert (by_number["version"], by_number["labels"]) == (1, [])
    assert (latest["version"], latest["labels"]) == (3, ["staging"])


def test_if_none_match_with_the_etag_is_304_and_a_label_move_changes_it(key_client, project):
    prompt_with_versions(project=project, count=2, labels={"production": 1})
    first = key_client.get("/api/v1/prompts/support-agent?label=production")

    again = key_client.get("/api/v1/prompts/support-agent?label=production", HTTP_IF_NONE_MATCH=first["ETag"])
    weak = key_client.get("/api/v1/prompts/support-agent?label=production", HTTP_IF_NONE_MATCH=f'"x", W/{first["ETag"]}')
    _put(key_client, "/api/v1/prompts/support-agent/labels/production", {"version": 2})
    moved = key_client.get("/api/v1/prompts/support-agent?label=production", HTTP_IF_NONE_MATCH=first["ETag"])

    assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])
    assert weak.status_code == 304
    assert moved.status_code == 200
    assert moved.json()["version"] == 2
    assert moved["ETag"] != first["ETag"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?label=nope", 404, "not_found"),
        ("?version=9", 404, "not_found"),
        ("?version=abc", 400, "invalid_version"),
        ("?version=0", 400, "invalid_version"),
        ("?label=bad%20label", 400, "invalid_label"),
        ("?label=production&version=1", 400, "invalid"),
    ],
)
def test_fetch_refusals(key_client, project, query, status, code):
    prompt_with_versions(project=project, count=1, labels={"production": 1})

    response = key_client.get(f"/api/v1/prompts/support-agent{query}")

    assert (response.status_code, response.json()["code"]) == (status, code)


def test_another_projects_prompt_is_404_for_the_key(key_client, other_project):
    prompt_with_versions(project=other_project, name="secret-prompt", count=1, labels={"production": 1})

    response = key_client.get("/api/v1/prompts/secret-prompt?label=production")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert "secret" not in response.content.decode().replace("secret-prompt", "")


def test_without_a_key_is_401(project):
    prompt_with_versions(project=project, count=1)

    response = APIClient().get("/api/v1/prompts/support-agent")

    assert response.status_code == 401


def test_create_version_makes_the_prompt_and_numbers_versions(key_client, project):
    body = {"template": "Hi {{name}}, {{ topic }}?", "tools": [WEATHER_TOOL], "settings": {"model": "gpt-4o", "max_tokens": 300},
            "message": "first", "description": "The support bot"}

    first = post_json(key_client, "/api/v1/prompts/new-bot/versions", body)
    second = post_json(key_client, "/api/v1/prompts/new-bot/versions", {"template": "Hello {{name}}"})

    assert (first.status_code, first.json()) == (201, {"name": "new-bot", "version": 1})
    assert (second.status_code, second.json()) == (201, {"name": "new-bot", "version": 2})
    prompt = Prompt.objects.for_project(project).get(name="new-bot")
    assert (prompt.description, prompt.latest_version) == ("The support bot", 2)
    v1 = PromptVersion.objects.for_project(project).get(prompt=prompt, number=1)
    assert (v1.variables, v1.tools, v1.settings, v1.author_label) == (
        ["name", "topic"], [WEATHER_TOOL], {"model": "gpt-4o", "max_tokens": 300}, v1.author_label)
    assert v1.author_label.startswith("API key ci (")
    audit = AuditEvent.objects.for_org(project.organization).filter(action="prompt.version_created").order_by("id")
    assert [event.target_label for event in audit] == ["new-bot@1", "new-bot@2"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"template": "x", "tools": [{"name": "t", "parameters": {"type": "nonsense"}}]}, "invalid_tools", "tools[0].parameters"),
        ({"template": "x", "tools": [{"type": "function", "function": {"name": "t", "parameters": {"properties": 3}}}]},
         "invalid_tools", "tools[0].function.parameters"),
        ({"template": "x", "tools": {"name": "t"}}, "invalid_tools", "tools"),
        ({"template": "x", "tools": [{"description": "no name"}]}, "invalid_tools", "tools[0].name"),
        ({"template": "x", "tools": [{"name": "a"}, {"name": "a"}]}, "invalid_tools", "tools[1].name"),
        ({"template": "x", "tools": ["a"]}, "invalid_tools", "tools[0]"),
        ({"template": ""}, "invalid_template", "template"),
        ({"template": "x", "settings": {"temperature": 7}}, "invalid_settings", "settings.temperature"),
        ({"template": "x", "settings": {"max_tokens": 1.5}}, "invalid_settings", "settings.max_tokens"),
        ({"template": "x", "settings": []}, "invalid_settings", "settings"),
        ({"template": "x", "message": "m" * 2001}, "invalid", "message"),
    ],
    ids=["bad-type", "bad-properties", "not-a-list", "no-name", "duplicate", "not-an-object", "empty-template",
         "temperature", "max-tokens", "settings-list", "long-message"],
)
def test_invalid_versions_are_refused_and_nothing_is_written(key_client, project, body, code, field):
    response = post_json(key_client, "/api/v1/prompts/bot/versions", body)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert not Prompt.objects.for_project(project).exists()


def test_a_key_moves_an_unprotected_label_and_it_is_audited(key_client, project):
    prompt = prompt_with_versions(project=project, count=2, labels={"staging": 1})

    response = _put(key_client, "/api/v1/prompts/support-agent/labels/staging", {"version": 2})

    assert response.status_code == 200
    assert response.json() == {"name": "support-agent", "label": "staging", "version": 2, "previous_version": 1,
                               "protected": False, "kind": "deploy"}
    move = PromptLabelMove.objects.for_project(project).filter(prompt=prompt).order_by("-id").first()
    assert (move.from_version.number, move.to_version.number, move.kind) == (1, 2, "deploy")
    event = AuditEvent.objects.for_org(project.organization).filter(action="prompt.label_moved").order_by("-id").first()
    assert (event.before, event.after["version"], event.after["kind"]) == ({"label": "staging", "version": 1}, 2, "deploy")
    assert event.after["via"].startswith("API key ci")


def test_a_key_cannot_move_a_protected_label(key_client, project):
    prompt = prompt_with_versions(project=project, count=2, labels={"production": 1})
    PromptLabel.objects.for_project(project).filter(prompt=prompt, name="production").update(protected=True)
    moves_before = PromptLabelMove.objects.for_project(project).count()

    response = _put(key_client, "/api/v1/prompts/support-agent/labels/production", {"version": 2})

    assert (response.status_code, response.json()["code"]) == (403, "label_protected")
    assert PromptLabel.objects.for_project(project).get(prompt=prompt, name="production").version.number == 1
    assert PromptLabelMove.objects.for_project(project).count() == moves_before


def test_a_label_cannot_point_at_another_prompts_or_projects_version(key_client, project, other_project):
    prompt_with_versions(project=project, count=1, labels={"production": 1})
    prompt_with_versions(project=project, name="other-prompt", count=3)
    prompt_with_versions(project=other_project, count=5)

    response = _put(key_client, "/api/v1/prompts/support-agent/labels/production", {"version": 3})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (404, "not_found", "version")
    label = PromptLabel.objects.for_project(project).get(name="production")
    assert (label.prompt.name, label.version.number) == ("support-agent", 1)
