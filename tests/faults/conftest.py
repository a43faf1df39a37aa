"""One stack per fault-test session: PostgreSQL, Redis and the product's commands, owned here.

Fault tests are marked ``fault`` and left out of the default run (pyproject's addopts); CI runs
them as their own step (``.ci/run``): ``python3 manage.py test -m fault``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.faults.processes import Stack


@pytest.fixture(scope="session")
def stack():
    # Not under pytest's tmp folder: that one is private to root, and PostgreSQL runs as another user then.
    folder = Path(tempfile.mkdtemp(prefix="agentloop-faults-"))
    running = Stack(folder)
    yield running
    running.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tenant(stack) -> tuple[str, str]:
    """A fresh project and its secret key: each test counts only its own rows."""
    return stack.new_project()


@pytest.fixture
def web(stack):
    service = stack.web()
    yield service
    service.kill()


@pytest.fixture
def worker(stack):
    service = stack.worker()
    yield service
    service.kill()
