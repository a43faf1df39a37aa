"""An invitation exists only if its e-mail left: a refused or unreachable mail server answers
502 ``email_failed`` and stores nothing (no invitation, no audit row, the earlier invitation to
that address still open). A name stored before names were checked (CR/LF in it) still makes a
valid one-line subject, and the e-mail goes to the invitee only."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import Invitation, Organization
from tests.factories.organizations import InvitationFactory

REFUSING = "tests.organizations.mail_backends.RefusingBackend"
UNREACHABLE = "tests.organizations.mail_backends.UnreachableBackend"


@pytest.fixture
def admin(members):
    return members[Role.ADMIN].user


def _state(organization):
    return (
        sorted(Invitation.objects.for_org(organization).values_list("email", "role", "revoked_at")),
        AuditEvent.objects.for_org(organization).count(),
    )


@pytest.mark.parametrize(("backend", "reason"), [(REFUSING, "SMTPRecipientsRefused"), (UNREACHABLE, "ConnectionRefusedError")])
def test_api_invite_that_cannot_be_mailed_is_502_and_stores_nothing(organization, admin, login, backend, reason):
    client = login(admin, api=True)
    before = _state(organization)

    with override_settings(EMAIL_BACKEND=backend):
        response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    assert response.status_code == 502
    assert response.json() == {
        "code": "email_failed",
        "message": f"The invitation e-mail could not be sent ({reason}); nothing was saved. "
                   "Check the mail server settings and try again.",
        "field": None,
    }
    assert _state(organization) == before == ([], 0)


def test_a_failed_reinvite_leaves_the_earlier_invitation_open(organization, admin, login):
    earlier = InvitationFactory(organization=organization, email="new@example.test", invited_by=admin)
    client = login(admin, api=True)
    before = _state(organization)

    with override_settings(EMAIL_BACKEND=REFUSING):
        response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    assert response.status_code == 502
    assert _state(organization) == before
    earlier.refresh_from_db()
    assert earlier.revoked_at is None


def test_html_invite_that_cannot_be_mailed_shows_the_reason_and_stores_nothing(organization, admin, login):
    client = login(admin)
    before = _state(organization)

    with override_settings(EMAIL_BACKEND=UNREACHABLE):
        response = client.post("/orgs/acme/members/", {"email": "new@example.test", "role": "member"})

    assert response.status_code == 502
    assert response.context["form"].non_field_errors() == [
        "The invitation e-mail could not be sent (ConnectionRefusedError); nothing was saved. "
        "Check the mail server settings and try again."
    ]
    assert _state(organization) == before


def test_an_organization_name_stored_with_crlf_still_sends_a_one_line_subject_to_the_invitee_only(
    organization, admin, login
):
    Organization.objects.filter(pk=organization.pk).update(name="Gamma\r\nBcc: victim@example.test\u2028x")
    client = login(admin, api=True)

    response = client.post("/api/v1/orgs/acme/invitations/", {"email": "new@example.test"}, format="json")

    assert response.status_code == 201
    assert len(mail.outbox) == 1
    message = mail.outbox[0].message()
    assert message["Subject"] == "You're invited to Gamma Bcc: victim@example.test x on AgentLoop"
    assert message["Bcc"] is None
    assert mail.outbox[0].recipients() == ["new@example.test"]
    assert "invited you to join Gamma Bcc: victim@example.test x on AgentLoop as member." in mail.outbox[0].body
    assert Invitation.objects.for_org(organization).get().email == "new@example.test"
