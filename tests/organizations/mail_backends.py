"""E-mail backends for tests of what happens when mail cannot leave (a real class, not a mock)."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """Every send fails the way an SMTP server that refuses the recipient does."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.test": (550, b"mailbox unavailable")})


class UnreachableBackend(BaseEmailBackend):
    """Every send fails the way an unreachable mail server does."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")
