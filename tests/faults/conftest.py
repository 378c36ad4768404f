"""The fault suite's shared project: articles in a store and in Label Studio, each annotated once."""

from __future__ import annotations

import pytest
from faultkit import annotated_project, int_env


@pytest.fixture(scope="session")
def annotated(labelstudio, tmp_path_factory):
    """(store, project title, number of annotated tasks); pulls read it, nobody changes it."""
    n = int_env("FAULTS_PULL_DOCS", 150)
    folder = tmp_path_factory.mktemp("faults-annotated")
    project = "faults-annotated"
    return annotated_project(labelstudio, folder, n, 15, project), project, n
