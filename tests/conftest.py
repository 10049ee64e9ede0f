"""Shared fixtures: a real anvil, a deployed consortium, chain snapshots. No mocked chain anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.connect import ChainContext, connect
from chain.node import LocalChain
from fedpm.consortium import Consortium, bootstrap, demo_plan
from fedpm.settings import Settings, load_settings

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


def advance_time(ctx: ChainContext, seconds: int) -> None:
    ctx.w3.provider.make_request("evm_increaseTime", [seconds])
    ctx.w3.provider.make_request("evm_mine", [])
