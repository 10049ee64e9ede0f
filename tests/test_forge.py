"""The forge invariant and fuzz tests (tests/forge/) over the real contracts, run offline by `forge test`."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FORGE = REPO_ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"


def test_forge_invariants_and_fuzz_hold() -> None:
    assert FORGE.exists(), f"forge not found at {FORGE}: run `make install` (npm ci installs @foundry-rs/forge-linux-amd64)"
    assert shutil.which("node"), "node not on PATH: forge compiles through tools/solc-shim.js (solc-js)"
    proc = subprocess.run(
        [str(FORGE), "test", "--offline", "--color", "never"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, f"forge test failed:\n{proc.stdout[-20000:]}\n{proc.stderr[-5000:]}"
    assert "0 failed" in proc.stdout and " passed" in proc.stdout, proc.stdout[-5000:]


@functools.cache
def _mutation_runner():
    spec = importlib.util.spec_from_file_location("run_solidity", REPO_ROOT / "tools" / "mutation" / "run_solidity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_solidity_mutant_still_matches_its_source_once() -> None:
    """`make mutate-sol` finds mutants by snippet: a contract edit that breaks one must update the list."""
    runner = _mutation_runner()
    mutants, python_tests = runner.load_mutants()
    runner.check_snippets(mutants, REPO_ROOT)
    assert {m.file for m in mutants} <= set(python_tests), "every mutated file names its Python contract tests"


def test_mutation_runner_names_the_failing_forge_test() -> None:
    runner = _mutation_runner()
    invariant = "Ran 1 test for tests/forge/A.t.sol:AInv\n[FAIL: finalized below quorum]\n\t[Sequence]\n invariant_rules() (runs: 1, calls: 1, reverts: 1)\n"
    unit = "Ran 4 tests for tests/forge/B.t.sol:B\n[FAIL: Error != expected error: X(1 [1e0]) != Y(2)] test_edge() (gas: 5)\n"
    assert runner.first_forge_failure(invariant) == "tests/forge/A.t.sol:AInv::invariant_rules (finalized below quorum)"
    assert runner.first_forge_failure(unit) == "tests/forge/B.t.sol:B::test_edge (Error != expected error: X(1 [1e0]) != Y(2))"
