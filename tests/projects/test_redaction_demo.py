"""The demo: the Billing agent has redaction on and a turn stored redacted; seeding twice
changes nothing."""

from __future__ import annotations

from apps.demo import seed as seed_demo
from apps.demo.redaction import REDACTED_TURN_ID
from apps.organizations.models import Organization
from apps.projects.models import Project
from apps.projects.redaction import redaction_settings_get
from apps.traces.models import Turn
from apps.traces.selectors import project_redaction_counts


def test_the_demo_has_a_project_with_redaction_on_and_a_redacted_turn(db, tmp_path, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    monkeypatch.setenv("AGENTLOOP_DATA_DIR", str(tmp_path))

    with django_capture_on_commit_callbacks(execute=True):
        seed_demo.seed()
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo.seed()

    organization = Organization.objects.get(slug=seed_demo.DEMO_ORG_SLUG)
    billing = Project.objects.for_org(organization).get(name="Billing agent")
    settings = redaction_settings_get(project=billing)
    assert (settings.placeholder_style, settings.version, len(settings.kinds)) == ("keyed", 1, 6)
    turn = Turn.objects.for_project(billing).get(id=REDACTED_TURN_ID)
    assert "example.com" not in turn.input and "4111" not in turn.input and "INV-204518" not in turn.input
    assert turn.input.startswith("I was charged twice on card [CARD:")
    assert turn.redactions == {"card": 1, "invoice": 3, "email": 2, "phone": 1, "ip": 1, "iban": 1, "secret": 1}
    assert "1111" in turn.output  # "the card ending 1111" is no card number
    assert project_redaction_counts(project=billing) == dict(sorted(turn.redactions.items(), key=lambda kv: (-kv[1], kv[0])))
