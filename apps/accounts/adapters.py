"""allauth hooks: who may sign up, how failed sign-ins are throttled, and where e-mail links point."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from apps.core.http import client_ip
from apps.core.sealing import seal_text, text_under_current_key, unseal_text
from apps.core.ratelimit import hit, retry_after
from apps.core.text import sha256_hex, single_line

SITE_NAME = "AgentLoop"


def throttle_address(request) -> str:
    """The address failed sign-ins are counted against: the client's IPv4 address, or its IPv6
    /64 (one subscriber's whole prefix, which it can rotate through freely)."""
    address = client_ip(request) or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False).network_address)
    return address


def login_failure_buckets(request, login: str) -> list[tuple[str, int]]:
    """The two fixed-window buckets a failed sign-in counts in, each with its limit.

    Both include the address, so failures from one address never lock the account for another:
    per (address, account) stops guessing one password, per address stops spraying many accounts.
    The login is hashed (the same for a known and an unknown e-mail: no enumeration).
    """
    limits = settings.LOGIN_FAILURE_LIMITS
    address = throttle_address(request)
    return [
        (f"login-failed:{address}:{sha256_hex(login.strip().lower())}", limits["per_address_and_account"]),
        (f"login-failed:{address}", limits["per_address"]),
    ]


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def public_url(url):
    """An absolute URL allauth built from the request's host, moved onto ``SITE_URL``; anything
    else unchanged. Behind a proxy, or on another port, the request's host is not the address
    people can open."""
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return url
    return settings.SITE_URL + urlunsplit(("", "", parts.path, parts.query, parts.fragment))


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is open unless AGENTLOOP_SIGNUP_OPEN is false (self-hosted, invitation-only installs).

    Failed sign-ins are throttled per (address, account) and per address in Redis
    (``LOGIN_FAILURE_LIMITS``, fixed windows opened by the first failure); over either limit the
    sign-in answers 429 with ``Retry-After`` before any password is checked, and only a failure
    counts. This replaces allauth's ``login_failed`` limit, which counts per account from every
    address and so lets anyone lock a known e-mail out. ``ACCOUNT_RATE_LIMITS = False`` turns
    this off with allauth's own limits (the test settings do).
    """

    def is_open_for_signup(self, request) -> bool:
        return getattr(settings, "SIGNUP_OPEN", True)

    def get_client_ip(self, request) -> str:
        """allauth's own limits count the same address as every other limit (``client_ip``
        trusts X-Forwarded-For only behind ``TRUSTED_PROXY_COUNT`` proxies)."""
        address = client_ip(request)
        if not address:
            raise PermissionDenied("Unable to determine the client address.")
        return address

    def pre_authenticate(self, request, **credentials) -> None:
        if settings.ACCOUNT_RATE_LIMITS is False:
            return
        login = credentials.get("email") or credentials.get("username") or ""
        wait = max(retry_after(bucket, limit=limit) for bucket, limit in login_failure_buckets(request, login))
        if wait:
            response = render(
                request, "account/login_throttled.html", {"wait": _wait_text(wait)}, status=429
            )
            response["Retry-After"] = str(wait)
            raise ImmediateHttpResponse(response)

    def authentication_failed(self, request, **credentials) -> None:
        if settings.ACCOUNT_RATE_LIMITS is False:
            return
        login = credentials.get("email") or credentials.get("username") or ""
        window = settings.LOGIN_FAILURE_LIMITS["window_seconds"]
        for bucket, limit in login_failure_buckets(request, login):
            hit(bucket, limit=limit, window=window)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every link in allauth's e-mails (password reset, confirmation, sign-up) and the site
        they name follow ``SITE_URL``, not the host the request happened to arrive on."""
        context = {key: public_url(value) if key.endswith("_url") else value for key, value in context.items()}
        context.setdefault("current_site", SimpleNamespace(domain=urlsplit(settings.SITE_URL).netloc, name=SITE_NAME))
        super().send_mail(template_prefix, email, context)

    def format_email_subject(self, subject: str) -> str:
        """``[AgentLoop] …`` (allauth would name the request's host), on one line."""
        prefix = account_settings.EMAIL_SUBJECT_PREFIX
        return single_line(f"{f'[{SITE_NAME}] ' if prefix is None else prefix}{subject}")


# --- MFA secrets sealed at rest -------------------------------------------------------------------
# allauth stores the TOTP key ("secret") and the recovery-code seed ("seed", "migrated_codes")
# in ``Authenticator.data`` through the adapter's encrypt/decrypt, which by default store them in
# the clear. ``encrypt`` has no row to bind to, so the context is one constant.
MFA_CONTEXT = "mfa-secret"
MFA_SEALED_KEYS = ("secret", "seed")


class MfaAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return seal_text(text, context=MFA_CONTEXT)

    def decrypt(self, encrypted_text: str) -> str:
        return unseal_text(encrypted_text, context=MFA_CONTEXT)


def mfa_data_reseal(authenticator):
    """``Authenticator.data`` with every sealed value re-sealed under the current key (None if
    there is nothing to do): the rotation hook registered in apps.accounts.apps."""
    data = dict(authenticator.data or {})
    changed = False
    for key in MFA_SEALED_KEYS:
        if isinstance(data.get(key), str) and not text_under_current_key(data[key], context=MFA_CONTEXT):
            data[key] = seal_text(unseal_text(data[key], context=MFA_CONTEXT), context=MFA_CONTEXT)
            changed = True
    codes = data.get("migrated_codes")
    if isinstance(codes, list) and not all(text_under_current_key(code, context=MFA_CONTEXT) for code in codes):
        data["migrated_codes"] = [seal_text(unseal_text(code, context=MFA_CONTEXT), context=MFA_CONTEXT) for code in codes]
        changed = True
    return data if changed else None
