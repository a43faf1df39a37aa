"""Password reset by e-mail and optional TOTP two-factor authentication (django-allauth)."""

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from django.core import mail
from django.test import Client

from tests.factories.accounts import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written out here rather than borrowed from allauth."""
    counter = int((at or time.time()) // 30)
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def _login(client: Client, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_password_reset_mails_a_link_that_sets_a_new_password():
    user = UserFactory(email="forgetful@example.test")
    client = Client()

    client.post("/accounts/password/reset/", {"email": "forgetful@example.test"})
    link = re.search(r"http://\S+/accounts/password/reset/key/\S+", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    done = client.post(form.redirect_chain[-1][0] if form.redirect_chain else link,
                       {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"})

    user.refresh_from_db()
    assert mail.outbox[0].to == ["forgetful@example.test"]
    assert done.status_code == 302
    assert user.check_password("a-brand-new-passphrase")


def test_totp_two_factor_is_required_at_login_once_activated():
    user = UserFactory(email="careful@example.test")
    client = Client()
    assert _login(client, user.email).status_code == 302

    reauthenticated = client.post("/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000" if totp(secret) != "000000" else "111111"})
    activated = client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)})
    client.post("/accounts/logout/")

    second = Client()
    after_password = _login(second, user.email)
    blocked = second.get("/orgs/")
    passed = second.post("/accounts/2fa/authenticate/", {"code": totp(secret)})

    assert reauthenticated.status_code == 302
    assert page.status_code == 200
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert activated.status_code == 302
    assert after_password["Location"].startswith("/accounts/2fa/authenticate/")
    assert blocked.status_code == 302 and blocked["Location"].startswith("/accounts/login/")
    assert passed.status_code == 302
    assert second.get("/orgs/").status_code == 200
