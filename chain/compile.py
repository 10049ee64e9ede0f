"""Compile fedpm's contracts with solc-js through py-solc-x's `compile_standard`.

The same settings go to ape-solidity through ape-config.yaml (EVM version, optimizer), so `ape compile` and
this path yield the same ABI and bytecode. Output is cached under `out/compile/` (the work tree's output folder,
beside the demo's) keyed by a hash of every input, so node processes that start in parallel reuse one compilation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak

from chain.toolchain import CONTRACTS_DIR, SOLC_VERSION, install_solc_shim
from ground.canonical import canonical_json
from ground.errors import FedpmError
from ground.files import REPO_ROOT, atomic_write
from ground.ids import hex0x

OPTIMIZER_RUNS = 200
CACHE_DIR = REPO_ROOT / "out" / "compile"


class CompileError(FedpmError):
    """solc rejected the sources."""


@dataclass(frozen=True)
class Artifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str

    @property
    def abi_hash(self) -> str:
        """keccak256 of the canonical ABI JSON: deployment files record it so a node can tell stale ABIs."""
        return hex0x(keccak(canonical_json(self.abi)))


def standard_input(sources: dict[str, str], evm_version: str) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "evmVersion": evm_version,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }


def read_sources(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, str]:
    return {p.relative_to(REPO_ROOT).as_posix(): p.read_text() for p in sorted(contracts_dir.rglob("*.sol"))}


def _oz_version() -> str:
    pkg = REPO_ROOT / "node_modules" / "@openzeppelin" / "contracts" / "package.json"
    return json.loads(pkg.read_text())["version"] if pkg.exists() else "absent"


def _cache_path(std_input: dict[str, Any], cache_dir: Path | None) -> Path:
    key = hashlib.sha256(canonical_json([std_input, SOLC_VERSION, _oz_version()])).hexdigest()[:16]
    return (cache_dir or CACHE_DIR) / f"artifacts-{key}.json"


def is_compiled(evm_version: str = "paris", contracts_dir: Path = CONTRACTS_DIR, cache_dir: Path | None = None) -> bool:
    """Whether `compile_contracts` would answer from its cache (else it runs solc-js: tens of seconds, worth saying)."""
    return _cache_path(standard_input(read_sources(contracts_dir), evm_version), cache_dir).exists()


def compile_contracts(evm_version: str = "paris", contracts_dir: Path = CONTRACTS_DIR, cache_dir: Path | None = None) -> dict[str, Artifact]:
    """Compile every contract under `contracts_dir`; return deployable artifacts by contract name."""
    sources = read_sources(contracts_dir)
    std_input = standard_input(sources, evm_version)
    cache = _cache_path(std_input, cache_dir)
    if cache.exists():
        return {name: Artifact(**a) for name, a in json.loads(cache.read_text()).items()}
    output = _run_solc(std_input)
    prefix = contracts_dir.resolve().relative_to(REPO_ROOT).as_posix() + "/"
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output.get("contracts", {}).items():
        if not source.startswith(prefix):
            continue  # imported sources (OpenZeppelin, or contracts/ for test contracts) are not this set's
        for name, out in contracts.items():
            artifacts[name] = Artifact(name=name, source=source, abi=out["abi"], bytecode="0x" + out["evm"]["bytecode"]["object"])
    atomic_write(cache, json.dumps({n: a.__dict__ for n, a in artifacts.items()}))  # parallel processes may race here harmlessly
    return artifacts


def _run_solc(std_input: dict[str, Any]) -> dict[str, Any]:
    import solcx  # imported here: py-solc-x is only needed when the cache misses

    shim = install_solc_shim()
    try:
        output = solcx.compile_standard(std_input, solc_binary=shim, allow_empty=True)
    except solcx.exceptions.SolcError as exc:
        errors = exc.error_dict if isinstance(exc.error_dict, list) else (exc.error_dict or {}).get("errors", [])
        first = next((e for e in errors if e.get("severity") == "error"), {})
        where = first.get("sourceLocation", {}).get("file", "?")
        raise CompileError(f"solc: {where}: {first.get('message', str(exc)).strip()}", hint="fix the Solidity source named above") from None
    return output


def all_error_abis(artifacts: dict[str, Artifact]) -> list[dict[str, Any]]:
    """Every custom error declared by any contract, deduplicated by signature."""
    seen: dict[str, dict[str, Any]] = {}
    for art in artifacts.values():
        for item in art.abi:
            if item["type"] == "error":
                sig = item["name"] + "(" + ",".join(i["type"] for i in item["inputs"]) + ")"
                seen.setdefault(sig, item)
    return list(seen.values())
