"""Rounds move on by the chain's clock alone, and a late transaction is a logged race, not a crash.

A round whose trainer died must fail at its deadline although nobody transacts: the local chain produces blocks on a
fixed period (as a QBFT chain does) and a node that sees the window expired calls `advance` itself. A commit that
lands after the deadline reverts `CommitWindowClosed`; the trainer process logs that in one line and serves the next
round. Both run real `fedpm node` processes against real anvil.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak
from web3 import Web3

from chain.connect import connect
from chain.keystore import Keystore
from chain.node import LocalChain
from fedpm.consortium.bootstrap import bootstrap, demo_plan
from fl_node.coordinator import publish_task
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from tests.conftest import TEST_PASSWORD, dev_key, make_settings

COMMIT_WINDOW = 4
# A task spec the trainer node accepts (it loads specs typed by tasks.registry); these nodes commit kept updates and
# never build its model.
SPEC = make_spec(cmapss.Normalization(("s2",), "minmax", (0.0,), (1.0,)), window=3)


def node_env(ctx, home: Path) -> dict[str, str]:
    return {**os.environ, "FEDPM_HOME": str(home), "FEDPM_CHAIN_RPC_URL": ctx.w3.provider.endpoint_uri, "FEDPM_KEYS_PASSWORD": TEST_PASSWORD,
            "FEDPM_CHAIN_DEPLOYMENT_FILE": str(ctx.deployment_path), "PYTHONUNBUFFERED": "1"}


def start_node(ctx, home: Path, kind: str, org: str, task_id: int, log: Path, *extra: str) -> subprocess.Popen:
    Keystore(home / "keystores", ctx.settings.keys).create(org, private_key=dev_key(org).key)
    cmd = [sys.executable, "-m", "fedpm.cli", "node", kind, "--as", org, "--task", str(task_id), "--poll", "0.2", *extra]
    return subprocess.Popen(cmd, env=node_env(ctx, home), stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def new_task(consortium, store: LocalStore, trainers: list[str], *, min_participants: int, rounds: int, commit_window: int = COMMIT_WINDOW) -> int:
    fl = FederatedLearning(consortium.ctx)
    return publish_task(fl, consortium.sender("gov-a"), store, SPEC, [("00.w", np.zeros(3, np.float32))], rounds=rounds,
                        min_participants=min_participants, commit_window=commit_window, trainers=[consortium.accounts[o].address for o in trainers],
                        aggregators=[consortium.accounts["agg-1"].address])


def alive(proc: subprocess.Popen, log: Path) -> bool:
    assert proc.poll() is None, f"node exited with {proc.returncode}: {log.read_text()[-600:]}"
    return True


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def dead_trainer_round(consortium, tmp_path: Path):
    """factory-2 never commits (it died); after factory-1's commit the test only reads until the round fails.
    Returns the RoundFailed event, the last block the test transacted in, the commit deadline and the aggregator's log."""
    ctx = consortium.ctx
    fl = FederatedLearning(ctx)
    home = tmp_path / "home"
    store = LocalStore(home / "store")
    task_id = new_task(consortium, store, ["factory-1", "factory-2"], min_participants=2, rounds=1)
    aggregator = start_node(ctx, home, "aggregate", "agg-1", task_id, tmp_path / "agg-1.log")
    try:
        r = fl.open_round(consortium.sender("gov-a"), task_id)
        blob = b"factory-1 update"
        fl.commit(consortium.sender("factory-1"), task_id, r, keccak(blob), store.add(blob), 100, 0.5)
        last_tx_block = ctx.w3.eth.block_number
        deadline = fl.round(task_id, r).commit_deadline
        expired = f"round {r}: commit window expired with 1 update(s); round now failed"
        wait_for(lambda: alive(aggregator, tmp_path / "agg-1.log") and expired in (tmp_path / "agg-1.log").read_text(),
                 COMMIT_WINDOW + 60, "the aggregator to fail the round")  # slack for a busy machine
    finally:
        stop(aggregator)
    log = (tmp_path / "agg-1.log").read_text()
    assert fl.round(task_id, r).state == RoundState.FAILED
    (failed,) = fl.contract.events.RoundFailed().get_logs(from_block=last_tx_block, argument_filters={"taskId": task_id})
    assert failed["args"]["reason"] == "too few updates before the commit deadline"
    assert ctx.w3.eth.get_transaction(failed["transactionHash"])["from"] == consortium.accounts["agg-1"].address
    assert ctx.w3.eth.get_block(failed["blockNumber"])["timestamp"] > deadline
    return failed, last_tx_block, deadline, log


def test_round_whose_trainer_died_fails_at_its_deadline_without_anyone_transacting(consortium, snapshot, tmp_path):
    """On the local chain as tests, the demo and `fedpm chain up` run it, empty blocks keep the clock moving."""
    failed, last_tx_block, _, _ = dead_trainer_round(consortium, tmp_path)
    w3 = consortium.ctx.w3
    assert [n for n in range(last_tx_block + 1, failed["blockNumber"]) if not w3.eth.get_block(n)["transactions"]]


@pytest.fixture(scope="module")
def manual_chain(tmp_path_factory):
    """A chain of our own whose mining the test controls (interval mining off), so a commit can land late for sure."""
    with LocalChain(block_time=None) as node:
        ctx = connect(make_settings(tmp_path_factory.mktemp("manual"), node.url))
        plan = demo_plan(factories=2, aggregators=1)
        yield bootstrap(ctx, plan, {p.org: dev_key(p.org) for p in plan}, threshold=2)


def test_round_whose_trainer_died_fails_on_a_chain_that_mines_only_on_transactions(manual_chain, tmp_path):
    """No empty blocks here (Ganache, anvil --block-time 0): the aggregator's own clock tells it the deadline passed,
    and its `advance` makes the block that carries the current time."""
    failed, last_tx_block, _, _ = dead_trainer_round(manual_chain, tmp_path)
    assert failed["blockNumber"] == last_tx_block + 1  # no block in between: the aggregator's advance made this one


def keep_update(workdir: Path, task_id: int, r: int, blob: bytes) -> None:
    """The bytes a trainer keeps after training (so the node commits them without running TensorFlow)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"task{task_id}-round{r}.safetensors").write_bytes(blob)
    (workdir / f"task{task_id}-round{r}.json").write_text('{"num_samples": 100, "loss": 0.5}')


def test_trainer_whose_commit_lands_after_the_deadline_logs_it_and_serves_the_next_round(manual_chain, tmp_path):
    consortium = manual_chain
    ctx, w3 = consortium.ctx, consortium.ctx.w3
    fl = FederatedLearning(ctx)
    home = tmp_path / "home"
    store = LocalStore(home / "store")
    workdir = tmp_path / "work"
    # a long window: the commit's gas estimate surely runs before the deadline; the test then mines it past the deadline
    task_id = new_task(consortium, store, ["factory-1"], min_participants=1, rounds=2, commit_window=600)
    keep_update(workdir, task_id, 1, b"round 1 update")
    keep_update(workdir, task_id, 2, b"round 2 update")
    # checked when the node starts, never trained on: the kept update is what it commits
    cmapss.write_file(cmapss.Engines((1,), (np.zeros((3, len(cmapss.FEATURE_COLUMNS))),)), tmp_path / "data.txt")
    r1 = fl.open_round(consortium.sender("gov-a"), task_id)
    deadline = fl.round(task_id, r1).commit_deadline
    w3.provider.make_request("evm_setAutomine", [False])  # the commit waits in the pool ...
    trainer = start_node(ctx, home, "train", "factory-1", task_id, tmp_path / "trainer.log", "--workdir", str(workdir), "--data", str(tmp_path / "data.txt"))
    try:
        wait_for(lambda: int(w3.provider.make_request("txpool_status", [])["result"]["pending"], 16) == 1, 120, "the trainer's commit")
        w3.provider.make_request("evm_mine", [deadline + 1])  # ... and is mined one second after the deadline
        w3.provider.make_request("evm_setAutomine", [True])
        wait_for(lambda: alive(trainer, tmp_path / "trainer.log") and fl.round(task_id, r1).state == RoundState.FAILED, 60, "round 1 to fail")
        r2 = fl.open_round(consortium.sender("gov-a"), task_id)
        wait_for(lambda: fl.update(task_id, r2, consortium.accounts["factory-1"].address).committed_at > 0, 60, "the round 2 commit")
        assert trainer.poll() is None, "the trainer exited"
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        stop(trainer)
    lines = (tmp_path / "trainer.log").read_text().splitlines()
    late = [line for line in lines if "CommitWindowClosed" in line]
    assert len(late) == 1, lines
    assert "too late, waiting for the next round: reverted with CommitWindowClosed(" in late[0] and f"deadline={deadline}" in late[0]
    assert not any("Traceback" in line or "without revert data" in line for line in lines), lines
    assert any(f"round {r2}: committed update {keccak(b'round 2 update').hex()[:12]}" in line for line in lines), lines


@pytest.mark.parametrize("extra, blocks_while_idle", [((), True), (("--block-time", "0"), False)])
def test_fedpm_chain_up_produces_blocks_while_nobody_transacts(tmp_path, extra, blocks_while_idle):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")} | {"FEDPM_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "chain", "up", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        w3 = Web3(Web3.HTTPProvider(proc.stdout.readline().strip()))
        first = w3.eth.block_number
        time.sleep(2.5)
        assert (w3.eth.block_number >= first + 2) is blocks_while_idle
    finally:
        stop(proc)
