"""The README's run command and local development: embedded servers unless URLs are given.

Safe by default, because ``./manage.py up`` is also how people first put AgentLoop on a
machine others can reach: DEBUG is off (the project's own error pages, never Django's debug
page with URL patterns and tracebacks) unless ``DJANGO_DEBUG=1`` or ``up --dev`` asks for
it, and the secret key is the data folder's own (``<data dir>/secret_key``, made on the
first start) unless ``DJANGO_SECRET_KEY`` names one.
"""

from urllib.parse import urlparse

from config import embedded

embedded.ensure_services("run")

from .base import *  # noqa: E402,F403
from .base import SITE_URL, env  # noqa: E402

SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or embedded.secret_key(embedded.data_dir("run"))
DEBUG = env.bool("DJANGO_DEBUG", default=False)
_site_host = urlparse(SITE_URL).hostname or "localhost"
# Loopback names plus the host of the public URL (``up`` derives it from --host and --port).
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=sorted({"localhost", "127.0.0.1", "[::1]", f"[{_site_host}]" if ":" in _site_host else _site_host}),
)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
