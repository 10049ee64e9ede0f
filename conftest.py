"""pytest policy for every test folder (tests/ and the tests beside the code).

- A test marked `@needs(part)` (tests/parts.py) checks its parts before any fixture runs: skips locally, fails in CI.
- Hypothesis keeps its home (example database, constants and unicode caches) under out/, not in the work tree;
  an explicit HYPOTHESIS_STORAGE_DIRECTORY wins.
"""

from __future__ import annotations

import os

import pytest

from tests.parts import require


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(config.rootpath / "out" / "hypothesis"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        for name in mark.args:
            require(name)
