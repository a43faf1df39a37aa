"""Failed sign-ins are throttled per (address, account) and per address, in real Redis.

Over a limit the login page answers 429 with Retry-After and a readable page, before any
password is checked; the account itself is never locked: its owner signs in from another
address. Test settings switch sign-in limits off, so each test turns them on explicitly.
"""

from __future__ import annotations

import itertools

import pytest
from django.test import Client, override_settings

from apps.core.redis import redis_client
from config.embedded import free_port
from config.settings import base
from tests.factories.accounts import PASSWORD, UserFactory

PER_ACCOUNT = base.LOGIN_FAILURE_LIMITS["per_address_and_account"]
PER_ADDRESS = base.LOGIN_FAILURE_LIMITS["per_address"]
WINDOW = base.LOGIN_FAILURE_LIMITS["window_seconds"]
_addresses = itertools.count(1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("throttling")]


@pytest.fixture
def throttling():
    with override_settings(ACCOUNT_RATE_LIMITS=base.ACCOUNT_RATE_LIMITS):
        yield


@pytest.fixture
def address():
    """A fresh documentation-range address per call; its Redis buckets are removed afterwards."""
    made = []

    def make() -> str:
        made.append(f"203.0.113.{next(_addresses) % 250 + 1}")
        _forget(made[-1])
        return made[-1]

    yield make
    for each in made:
        _forget(each)


def _forget(address: str) -> None:
    client = redis_client()
    for key in client.scan_iter(f"agentloop:rl:login-failed:{address}*"):
        client.delete(key)


def _login(address: str, email: str, password: str, client: Client | None = None):
    client = client or Client()
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=address)


def _is_signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_wrong_passwords_from_one_address_get_429_there_while_the_owner_signs_in_from_another(address):
    user = UserFactory(email="ada@example.test")
    attacker, owner = address(), address()

    failures = [_login(attacker, user.email, "wrong-password").status_code for _ in range(PER_ACCOUNT)]
    blocked = _login(attacker, user.email, PASSWORD)
    elsewhere = _login(owner, user.email, PASSWORD)

    assert failures == [200] * PER_ACCOUNT
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= WINDOW
    page = blocked.content.decode()
    assert "Too many sign-in attempts" in page
    assert "Try again in 5 minutes." in page
    assert "_auth_user_id" not in blocked.client.session
    assert _is_signed_in(elsewhere)


def test_the_limit_per_address_covers_many_accounts_but_not_other_addresses(address):
    users = [UserFactory() for _ in range(PER_ADDRESS + 1)]
    sprayer, owner = address(), address()

    failures = [_login(sprayer, user.email, "wrong-password").status_code for user in users[:PER_ADDRESS]]
    fresh_account = _login(sprayer, users[-1].email, PASSWORD)
    unknown_account = _login(sprayer, "nobody@example.test", "anything")
    elsewhere = _login(owner, users[0].email, PASSWORD)

    assert failures == [200] * PER_ADDRESS
    assert (fresh_account.status_code, unknown_account.status_code) == (429, 429)
    assert int(fresh_account["Retry-After"]) > 0
    assert _is_signed_in(elsewhere)


def test_an_unknown_account_is_throttled_like_a_known_one(address):
    attacker = address()

    statuses = [_login(attacker, "nobody@example.test", "guess").status_code for _ in range(PER_ACCOUNT + 1)]

    assert statuses == [200] * PER_ACCOUNT + [429]


def test_successful_sign_ins_do_not_count(address):
    user = UserFactory()
    home = address()

    results = [_is_signed_in(_login(home, user.email, PASSWORD)) for _ in range(PER_ACCOUNT * 2)]
    failures = [_login(home, user.email, "typo").status_code for _ in range(PER_ACCOUNT - 1)]
    still_in = _login(home, user.email, PASSWORD)

    assert results == [True] * (PER_ACCOUNT * 2)
    assert failures == [200] * (PER_ACCOUNT - 1)
    assert _is_signed_in(still_in)


def test_a_throttled_address_gets_429_without_its_password_being_checked_again(address):
    user = UserFactory()
    attacker = address()
    for _ in range(PER_ACCOUNT):
        _login(attacker, user.email, "wrong-password")
    key = next(redis_client().scan_iter(f"agentloop:rl:login-failed:{attacker}:*"))

    for _ in range(3):
        assert _login(attacker, user.email, "wrong-password").status_code == 429

    assert int(redis_client().get(key)) == PER_ACCOUNT


def test_with_sign_in_limits_switched_off_nothing_is_throttled(address):
    user = UserFactory()
    attacker = address()

    with override_settings(ACCOUNT_RATE_LIMITS=False):
        statuses = [_login(attacker, user.email, "wrong-password").status_code for _ in range(PER_ACCOUNT + 2)]

    assert statuses == [200] * (PER_ACCOUNT + 2)
    assert list(redis_client().scan_iter(f"agentloop:rl:login-failed:{attacker}*")) == []


def test_with_redis_unreachable_sign_in_fails_open(address):
    user = UserFactory()
    attacker = address()
    redis_client.cache_clear()
    try:
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
            failures = [_login(attacker, user.email, "wrong-password").status_code for _ in range(PER_ACCOUNT + 1)]
            signed_in = _is_signed_in(_login(attacker, user.email, PASSWORD))
    finally:
        redis_client.cache_clear()

    assert failures == [200] * (PER_ACCOUNT + 1)
    assert signed_in is True
