"""The prompt pages: who sees which forms, each action's effect and refusal, escaping, 404s."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.experiments.models import PromptLabel, PromptVersion
from apps.governance.models import AuditEvent
from tests.conftest import client_for
from tests.factories.experiments import prompt_version, prompt_with_versions
from tests.factories.traces import SignalFactory, TurnFactory


def _url(name, project, **kwargs):
    return reverse(name, kwargs={"org": project.organization.slug, "project": project.pk, **kwargs})


@pytest.fixture
def prompt(project):
    prompt = prompt_with_versions(project=project, count=3, labels={"production": 1, "staging": 3})
    PromptLabel.objects.for_project(project).filter(name="production").update(protected=True)
    return prompt


@pytest.mark.parametrize(("role", "forms"), [
    (Role.MEMBER, set()),
    (Role.REVIEWER, {"label-move", "version-create"}),
    (Role.ADMIN, {"label-move", "version-create", "protect-staging", "unprotect-production"}),
])
def test_prompt_page_shows_the_forms_the_role_may_use(project, members, prompt, role, forms):
    client = client_for(members[role].user)

    page = client.get(_url("prompt_detail", project, prompt="support-agent")).content.decode()

    shown = {form for form in ("label-move", "version-create", "protect-staging", "unprotect-production") if f'data-testid="{form}' in page}
    assert shown == forms
    assert "support-agent@3" in page


def test_pages_render_for_a_member(project, members, prompt):
    client = client_for(members[Role.MEMBER].user)

    statuses = [client.get(url).status_code for url in (
        _url("prompt_list", project), _url("prompt_detail", project, prompt="support-agent"),
        _url("prompt_version", project, prompt="support-agent", version=2), _url("prompt_diff", project, prompt="support-agent"),
        _url("prompt_diff", project, prompt="support-agent") + "?from=1&to=3",
    )]

    assert statuses == [200, 200, 200, 200, 200]


def test_missing_or_foreign_prompt_pages_are_404(project, other_project, members, prompt):
    prompt_with_versions(project=other_project, name="secret", count=2)
    client = client_for(members[Role.OWNER].user)

    statuses = [client.get(url).status_code for url in (
        _url("prompt_detail", project, prompt="secret"), _url("prompt_version", project, prompt="support-agent", version=9),
        _url("prompt_diff", project, prompt="secret"),
    )]

    assert statuses == [404, 404, 404]


def test_a_reviewer_deploys_an_unprotected_label_and_rolls_it_back(project, members, prompt):
    client = client_for(members[Role.REVIEWER].user)

    client.post(_url("prompt_label_move", project, prompt="support-agent"), {"label": "staging", "version": "2"})
    after_move = PromptLabel.objects.for_project(project).get(name="staging").version.number
    client.post(_url("prompt_label_rollback", project, prompt="support-agent", label="staging"))

    assert after_move == 2
    assert PromptLabel.objects.for_project(project).get(name="staging").version.number == 3
    kinds = list(AuditEvent.objects.for_org(project.organization).filter(action="prompt.label_moved")
                 .order_by("id").values_list("after__kind", flat=True))
    assert kinds[-2:] == ["rollback", "rollback"]  # 3 → 2 is older (a rollback), 2 → 3 is the rollback button


def test_a_reviewer_cannot_move_a_protected_label_and_sees_why(project, members, prompt):
    client = client_for(members[Role.REVIEWER].user)

    response = client.post(_url("prompt_label_move", project, prompt="support-agent"), {"label": "production", "version": "3"})

    assert response.status_code == 403
    assert "protected" in response.content.decode()
    assert PromptLabel.objects.for_project(project).get(name="production").version.number == 1


@pytest.mark.parametrize("role", [Role.MEMBER, Role.REVIEWER])
def test_protection_is_for_admins(project, members, prompt, role):
    client = client_for(members[role].user)

    response = client.post(_url("prompt_label_protection", project, prompt="support-agent", label="staging"), {"protected": "on"})

    assert response.status_code == 403
    assert PromptLabel.objects.for_project(project).get(name="staging").protected is False


def test_an_admin_protects_a_label(project, members, prompt):
    client = client_for(members[Role.ADMIN].user)

    response = client.post(_url("prompt_label_protection", project, prompt="support-agent", label="staging"), {"protected": "on"})

    assert response.status_code == 302
    assert PromptLabel.objects.for_project(project).get(name="staging").protected is True


def test_new_prompt_and_new_version_forms(project, members):
    client = client_for(members[Role.REVIEWER].user)

    created = client.post(_url("prompt_list", project), {"name": "faq", "template": "Answer {{q}}", "settings": '{"model": "m"}'})
    bad = client.post(_url("prompt_version_create", project, prompt="faq"), {"template": "x", "tools": "[{"})
    invalid = client.post(_url("prompt_version_create", project, prompt="faq"), {"template": "x", "tools": '[{"name": "t", "parameters": {"type": 1}}]'})
    good = client.post(_url("prompt_version_create", project, prompt="faq"), {"template": "Answer {{q}} briefly", "message": "shorter"})

    assert created.status_code == 302
    assert (bad.status_code, invalid.status_code, good.status_code) == (400, 400, 302)
    assert "not valid JSON" in bad.content.decode() and "JSON Schema" in invalid.content.decode()
    assert list(PromptVersion.objects.for_project(project).order_by("number").values_list("number", "message")) == [(1, ""), (2, "shorter")]


def test_a_member_cannot_create(project, members):
    client = client_for(members[Role.MEMBER].user)

    response = client.post(_url("prompt_list", project), {"name": "faq", "template": "x"})

    assert response.status_code == 403
    assert not PromptVersion.objects.for_project(project).exists()


def test_diff_page_escapes_and_marks_changes(project, members):
    prompt_version(project=project, name="p", template="line one\n<b>bold</b>")
    prompt_version(project=project, name="p", template="line one\n<script>alert(1)</script>")
    client = client_for(members[Role.MEMBER].user)

    page = client.get(_url("prompt_diff", project, prompt="p") + "?from=1&to=2").content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert page.count('class="diff-replace"') == 1 and page.count('class="diff-equal"') >= 1


def test_version_page_shows_traffic_beside_the_previous_version(project, members, prompt):
    for number, thumbs in ((2, [True, False]), (3, [True, True, False, False])):
        for down in thumbs:
            turn = TurnFactory(project=project, prompt_version=f"support-agent@{number}")
            if down:
                SignalFactory(turn=turn, kind="thumbs_down", value=True)
    TurnFactory(project=project, prompt_version="other@3")
    client = client_for(members[Role.MEMBER].user)

    page = client.get(_url("prompt_version", project, prompt="support-agent", version=3)).content.decode()

    assert 'data-testid="traffic-turns"' in page
    assert ">4</a>" in page and ">2</a>" in page  # 4 turns on v3, 2 on v2
    assert "50% <small" in page  # thumbs-down on both
