"""Where the offline toolchain lives: solc-js behind a `solc` shim, and anvil, both from npm (and Ganache, the
second EVM the tests run fedpm against).

py-solc-x and ape-solidity look for `solc-v<version>` in `$SOLCX_BINARY_PATH` (default `~/.solcx`). We point
that at a folder inside the venv and write there a two-line wrapper that runs `tools/solc-shim.js` of this
checkout, so a fresh clone never depends on what a previous checkout left in the home directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ground.errors import ConfigError
from ground.files import REPO_ROOT, atomic_write

CONTRACTS_DIR = REPO_ROOT / "contracts"
NODE_MODULES = REPO_ROOT / "node_modules"
SOLC_VERSION = "0.8.28"
SHIM_JS = REPO_ROOT / "tools" / "solc-shim.js"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise ConfigError(f"{what} not found at {path}", hint="run `make install` (it runs `npm ci`)")
    return path


def anvil_path() -> Path:
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    return _require(NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil", "anvil")


def ganache_path() -> Path:
    return _require(NODE_MODULES / ".bin" / "ganache", "ganache")


def solcx_dir() -> Path:
    return Path(os.environ.get("SOLCX_BINARY_PATH") or REPO_ROOT / ".venv" / "solcx")


def install_solc_shim() -> Path:
    """Write (idempotently) the `solc-v0.8.28` wrapper py-solc-x and ape-solidity will run."""
    _require(NODE_MODULES / "solc" / "soljson.js", "npm package solc")
    target_dir = solcx_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"solc-v{SOLC_VERSION}"
    node = shutil.which("node") or "node"
    script = f'#!/bin/sh\nexec "{node}" "{SHIM_JS}" "$@"\n'
    if not target.exists() or target.read_text() != script:
        atomic_write(target, script, mode=0o755)
    return target


if __name__ == "__main__":  # `python -m chain.toolchain`: used by the Makefile
    print(install_solc_shim())
