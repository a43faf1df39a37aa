from __future__ import annotations

import pytest

from tests.factories.datasets import DatasetFactory


@pytest.fixture
def dataset(project):
    return DatasetFactory(project=project, name="Refund failures")


@pytest.fixture
def other_dataset(other_project):
    return DatasetFactory(project=other_project, name="Refund failures")
