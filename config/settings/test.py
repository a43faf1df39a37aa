"""Tests: real PostgreSQL and Redis (embedded under .data/test unless URLs are given)."""

import os

from config import embedded

embedded.ensure_services("test")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from .base import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES["default"]["KEY_PREFIX"] = f"agentloop-test-{os.getpid()}"  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = False
ACCOUNT_RATE_LIMITS = False
SITE_URL = "http://testserver"
MEDIA_ROOT = str(embedded.data_dir("test") / "media")
