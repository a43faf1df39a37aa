import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _import_production(**env):
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AGENTLOOP_"))
    }
    environment.update(DATABASE_URL="postgresql://u@localhost:1/db", REDIS_URL="redis://localhost:1/0", **env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.production"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "x" * 50}, "DJANGO_DEBUG must be off"),
        ({}, "Set DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "Set DJANGO_SECRET_KEY"),
    ],
)
def test_production_settings_refuse_insecure_configuration(env, message):
    result = _import_production(**env)

    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_load_when_configured():
    result = _import_production(DJANGO_SECRET_KEY="k" * 50)

    assert result.returncode == 0, result.stderr


def test_base_settings_require_service_urls():
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    environment["DJANGO_SECRET_KEY"] = "k" * 50

    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.production"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode != 0
    assert "DATABASE_URL and REDIS_URL must be set" in result.stderr


def test_database_url_with_socket_host():
    from config.settings.base import database_from_url

    config = database_from_url("postgresql://postgres@:5432/app?host=/tmp/pg&sslmode=disable")

    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == ("app", "postgres", "/tmp/pg", "5432")
    assert config["OPTIONS"] == {"sslmode": "disable"}
