"""For every test folder (tests/ and the tests beside the code): Hypothesis keeps its home (example database,
constants and unicode caches) under out/, not in the work tree. An explicit HYPOTHESIS_STORAGE_DIRECTORY wins."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(config.rootpath / "out" / "hypothesis"))
