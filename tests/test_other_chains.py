"""fedpm on an EVM other than anvil: Ganache 7.9.2 on London (a base fee even at gas price 0, so gas costs
something and fresh accounts must be funded) and on Berlin (legacy transactions at gas price 0, free). Each mode
deploys the consortium, admits members by vote, appends a maintenance record, opens a federated round and decodes
a revert. The zero-gas EIP-1559 case (base fee 0) is the anvil the rest of the suite runs on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Iterator

import numpy as np
import pytest
from web3 import Web3

from chain.connect import connect
from chain.funds import fund
from chain.keystore import Keystore
from chain.node import free_port
from chain.reverts import RoundInProgress
from chain.toolchain import ganache_path
from fedpm.consortium.bootstrap import bootstrap, demo_plan
from chain.errors import TransactionFailed
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.records import Kind, Record
from fl_node.coordinator import publish_task
from fl_node.spec import TaskSpec
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tests.conftest import TEST_PASSWORD, dev_key, make_settings

GANACHE_CHAIN_ID = 1339


@pytest.fixture(scope="module", params=["london", "berlin"])
def ganache(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    port = free_port()
    log = tmp_path_factory.mktemp("ganache") / "ganache.log"
    cmd = [str(ganache_path()), "--server.host", "127.0.0.1", "--server.port", str(port), "--chain.chainId", str(GANACHE_CHAIN_ID),
           "--chain.hardfork", request.param, "--miner.defaultGasPrice", "0", "--wallet.totalAccounts", "1", "--logging.quiet"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2}))
    try:
        end = time.monotonic() + 60
        while not _answers(w3):
            assert proc.poll() is None and time.monotonic() < end, f"ganache did not start: {log.read_text()}"
            time.sleep(0.2)
        yield request.param, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(w3: Web3) -> bool:
    try:
        return w3.eth.chain_id == GANACHE_CHAIN_ID
    except Exception:  # not listening yet
        return False


def fedpm_cli(home, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}
    env.update({"FEDPM_HOME": str(home), "FEDPM_CHAIN_RPC_URL": url, "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_KEYS_SCRYPT_N": "1024",
                "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"})
    return subprocess.run([sys.executable, "-m", "fedpm.cli", *args], env=env, capture_output=True, text=True, timeout=180)


def test_consortium_maintenance_and_a_round_on_ganache(ganache, tmp_path):
    mode, url = ganache
    ctx = connect(make_settings(tmp_path / "home", url))
    w3 = ctx.w3
    plan = demo_plan(factories=1, aggregators=1)
    accounts = {p.org: dev_key(p.org) for p in plan}
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    assert w3.eth.gas_price == 0 and (base_fee > 0 if mode == "london" else base_fee is None)

    if mode == "london":  # gas costs the base fee: an unfunded account is refused with the command that fixes it
        with pytest.raises(TransactionFailed, match=r"holds 0 wei.*fedpm account fund"):
            bootstrap(ctx, plan, accounts, threshold=2)
        Keystore(ctx.settings.keystore_dir, ctx.settings.keys).create("gov-a", private_key=accounts["gov-a"].key)
        out = fedpm_cli(ctx.settings.home, url, "account", "fund", "gov-a", "--amount", "2")
        assert out.returncode == 0, out.stderr
        assert w3.eth.get_balance(accounts["gov-a"].address) == Web3.to_wei(2, "ether")
        bad = fedpm_cli(ctx.settings.home, url, "account", "fund", "gov-a", "--amount", "lots")
        assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "--amount 'lots' is not an amount of ether" in bad.stderr
        gov_a = ctx.sender(accounts["gov-a"])
        for org, account in accounts.items():
            if org != "gov-a":
                fund(w3, account.address, Web3.to_wei(1, "ether"), gov_a if org == "gov-b" else None)  # from a keystore account, or the node
        assert w3.eth.get_balance(accounts["gov-b"].address) == Web3.to_wei(1, "ether")

    consortium = bootstrap(ctx, plan, accounts, threshold=2, devices={"factory-1-m1": dev_key("device-1")})

    assert consortium.registry.org_of(accounts["agg-1"].address) == "agg-1"  # admitted by a 2-of-3 vote
    record = Record(machine="factory-1-m1", time=1_700_000_000, kind=Kind.MAINTENANCE, component="spindle", description="greased",
                    technician_org="factory-1", technician="tech-7")
    receipt, index = MaintenanceLog(ctx).append(consortium.sender("factory-1"), record)
    assert index == 0 and len(MaintenanceLog(ctx).entries("factory-1-m1")) == 1
    fl = FederatedLearning(ctx)
    spec = TaskSpec.from_dict({"task": mode, "train": {"epochs": 1, "batch_size": 32}})
    task_id = publish_task(fl, consortium.sender("gov-a"), LocalStore(tmp_path / "store"), spec, [("00.w", np.zeros(3, np.float32))],
                           rounds=1, min_participants=1, trainers=[accounts["factory-1"].address], aggregators=[accounts["agg-1"].address])
    r = fl.open_round(consortium.sender("gov-a"), task_id)
    assert fl.round(task_id, r).state == RoundState.OPEN
    with pytest.raises(RoundInProgress):  # reverts decode on this node too
        fl.open_round(consortium.sender("gov-a"), task_id)

    tx = w3.eth.get_transaction(receipt.tx_hash)
    if mode == "london":
        assert tx["type"] == 2 and tx["maxPriorityFeePerGas"] == 0 and tx["maxFeePerGas"] >= w3.eth.get_block(receipt.block_number)["baseFeePerGas"]
        assert w3.eth.get_balance(accounts["factory-1"].address) < Web3.to_wei(1, "ether")  # it paid for gas
    else:
        assert tx["type"] == 0 and tx["gasPrice"] == 0
        assert w3.eth.get_balance(accounts["factory-1"].address) == 0  # free gas: nobody needed funds


def test_a_fresh_account_is_told_to_fund_itself_where_gas_costs_something(ganache, tmp_path):
    """`fedpm deploy` as a fresh keystore account: on London (base fee) one line naming `fedpm account fund`, and
    nothing deployed; after `fedpm account fund` the same command works. On Berlin at gas price 0 it works unfunded."""
    mode, url = ganache
    assert fedpm_cli(tmp_path, url, "account", "new", "fresh").returncode == 0
    deploy = ("deploy", "--as", "fresh", "--governor", "fresh", "--threshold", "1")

    first = fedpm_cli(tmp_path, url, *deploy)

    if mode == "london":
        lines = first.stderr.strip().splitlines()
        assert first.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: account ") and "holds 0 wei" in lines[0], first.stderr
        address = Keystore(tmp_path / "keystores", make_settings(tmp_path).keys).address("fresh")
        assert f"fedpm account fund {address} --amount ETH" in lines[0] and "Traceback" not in first.stderr, first.stderr
        assert not list((tmp_path / "deployments").glob("*.json"))
        assert fedpm_cli(tmp_path, url, "account", "fund", "fresh", "--amount", "1").returncode == 0
        first = fedpm_cli(tmp_path, url, *deploy)
    assert first.returncode == 0, first.stderr
    assert list((tmp_path / "deployments").glob("*.json"))


def test_zero_gas_eip1559_anvil_takes_type_2_transactions_at_fee_0_from_unfunded_accounts(consortium, snapshot):
    w3 = consortium.ctx.w3
    assert w3.eth.get_block("latest")["baseFeePerGas"] == 0 and w3.eth.gas_price == 0
    receipt = consortium.registry.register_machine(consortium.sender("factory-1"), "m-zero-gas", "maker")

    tx = w3.eth.get_transaction(receipt.tx_hash)
    assert tx["type"] == 2 and tx["maxFeePerGas"] == 0 and tx["maxPriorityFeePerGas"] == 0
    assert w3.eth.get_balance(consortium.accounts["factory-1"].address) == 0
