"""The forge invariant and fuzz tests (tests/forge/) over the real contracts, run offline by `forge test`."""

from __future__ import annotations

import os
import shutil
import subprocess
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
