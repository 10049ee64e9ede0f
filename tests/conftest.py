"""Shared fixtures: a real anvil, a deployed consortium, chain snapshots, ape in a copy of the project. No mocked chain
anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.connect import ChainContext, connect
from chain.node import LocalChain
from chain.toolchain import REPO_ROOT
from fedpm.consortium.bootstrap import Consortium, bootstrap, demo_plan
from fedpm.settings import Settings, load_settings
from tests.parts import require

TEST_PASSWORD = "test-password"


def dev_key(name: str) -> Account:
    """Deterministic throwaway keys for tests: never used outside a local anvil."""
    return Account.from_key(keccak(text=f"fedpm-test:{name}"))


def make_settings(home: Path, url: str | None = None, **overrides: object) -> Settings:
    values = {"home": home, "keys.password": TEST_PASSWORD, "keys.scrypt_n": 2**10, "keys.allow_weak_scrypt": True}
    if url:
        values["chain.rpc_url"] = url
    values.update(overrides)
    return load_settings(values, env={})


@pytest.fixture(scope="session")
def anvil() -> Iterator[LocalChain]:
    with LocalChain() as node:
        yield node


@pytest.fixture(scope="session")
def ctx(anvil: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> ChainContext:
    return connect(make_settings(tmp_path_factory.mktemp("home"), anvil.url))


@pytest.fixture(scope="session")
def consortium(ctx: ChainContext) -> Consortium:
    """3 governors (2-of-3), 4 factories, a maker, 3 aggregators; machine `factory-i-m1` with a device each."""
    plan = demo_plan()
    accounts = {p.org: dev_key(p.org) for p in plan}
    devices = {f"factory-{i}-m1": dev_key(f"device-{i}") for i in range(1, 5)}
    return bootstrap(ctx, plan, accounts, threshold=2, devices=devices)


@pytest.fixture
def snapshot(ctx: ChainContext) -> Iterator[None]:
    """Revert the chain to its state before the test (senders are per test, so nonces re-sync)."""
    snap = ctx.w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    ctx.w3.provider.make_request("evm_revert", [snap])
    # anvil's revert takes its clock back to the snapshot's block too: without this block at wall-clock time the chain
    # falls behind by every reverted test's duration, and late in a session nodes comparing round deadlines with
    # their own clock (fl_node.nodes.CLOCK_SLACK_S) see windows expire that the chain has not reached
    head = ctx.w3.eth.get_block("latest")["timestamp"]
    ctx.w3.provider.make_request("evm_mine", [max(head + 1, int(time.time()))])


def advance_time(ctx: ChainContext, seconds: int) -> None:
    ctx.w3.provider.make_request("evm_increaseTime", [seconds])
    ctx.w3.provider.make_request("evm_mine", [])


@dataclass(frozen=True)
class ApeProject:
    """`ape` run in a copy of the project (config, contracts, scripts; node_modules linked), so that ape's `.build/`
    lands in the test's tmp folder and not in the work tree. PYTHONPATH keeps the scripts on this checkout's code."""

    binary: str
    path: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = {**(os.environ if env is None else env), "PYTHONPATH": str(REPO_ROOT)}
        return subprocess.run([self.binary, *args], cwd=self.path, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def ape(tmp_path: Path) -> ApeProject:
    binary = require("ape")
    project = tmp_path / "ape-project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "ape-config.yaml", project)
    for folder in ("contracts", "scripts"):
        shutil.copytree(REPO_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    return ApeProject(binary, project)
