"""Federated rounds with every node its own OS process (`fedpm node train|aggregate`), real TensorFlow
training on small synthetic C-MAPSS-format data, a shared embedded content store and a real anvil.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chain.keystore import Keystore
from tasks.rul import cmapss
from fl_node.coordinator import processes_alive, publish_task, wait_round
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tests.conftest import TEST_PASSWORD, dev_key

pytestmark = [pytest.mark.usefixtures("snapshot"), pytest.mark.slow]

TRAINERS = ["factory-1", "factory-2"]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]


def write_cmapss(path: Path, lives: dict[int, int], seed: int) -> Path:
    """Synthetic engines whose sensors drift towards failure, in NASA's file layout."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit, life in lives.items():
        for cycle in range(1, life + 1):
            wear = cycle / life
            sensors = [518.67, 642 + 2 * wear, 1590 + 20 * wear, 1400 + 30 * wear] + list(10 + wear + rng.normal(0, 0.05, 17))
            rows.append(" ".join(f"{v:.4f}" for v in [unit, cycle, rng.normal(0, 0.001), 0.0, 100.0, *sensors]))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def fl_home(consortium, tmp_path):
    """A node home with keystores for the participating orgs (same keys as the consortium fixture)."""
    home = tmp_path / "home"
    ks = Keystore(home / "keystores", consortium.ctx.settings.keys)
    for org in TRAINERS + AGGREGATORS:
        ks.create(org, private_key=dev_key(org).key)
    env = {**os.environ, "FEDPM_HOME": str(home), "FEDPM_CHAIN_RPC_URL": consortium.ctx.w3.provider.endpoint_uri,
           "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_CHAIN_DEPLOYMENT_FILE": str(consortium.ctx.deployment_path),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    data = {org: write_cmapss(tmp_path / f"{org}.txt", {i * 10 + k: 60 + 7 * k for k in range(4)}, seed=i) for i, org in enumerate(TRAINERS, 1)}
    return home, env, data


def node(env: dict, kind: str, org: str, task_id: int, log: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fedpm.cli", "node", kind, "--as", org, "--task", str(task_id), "--poll", "0.2", *extra]
    return subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def test_two_rounds_with_separate_trainer_and_aggregator_processes_and_a_trainer_restart(consortium, fl_home, tmp_path):
    home, env, data = fl_home
    fl = FederatedLearning(consortium.ctx)
    store = LocalStore(home / "store")
    stats = cmapss.combine_stats([cmapss.local_stats(cmapss.load_file(p)) for p in data.values()])
    norm = cmapss.normalization_from_stats(stats, cmapss.select_features(stats), "minmax")
    from tasks import model as M
    from tasks.rul.experiment import make_spec

    spec = make_spec(norm, window=10, model={"filters": [8], "dense": 8}, train={"epochs": 1, "batch_size": 64})
    initial = M.get_weights(M.build_model(spec, seed=0))
    task_id = publish_task(fl, consortium.sender("gov-a"), store, spec, initial, rounds=2, min_participants=2,
                           trainers=[consortium.accounts[o].address for o in TRAINERS], aggregators=[consortium.accounts[o].address for o in AGGREGATORS])
    procs = {org: node(env, "train", org, task_id, tmp_path / f"{org}.log", "--data", str(data[org])) for org in TRAINERS}
    procs |= {org: node(env, "aggregate", org, task_id, tmp_path / f"{org}.log") for org in AGGREGATORS}
    try:
        r1 = fl.open_round(consortium.sender("gov-a"), task_id)
        first = wait_round(fl, task_id, r1, timeout=240, check=processes_alive(procs))
        # Restart a trainer between rounds: it must neither re-submit round 1 nor skip round 2.
        procs["factory-1"].send_signal(signal.SIGTERM)
        procs["factory-1"].wait(timeout=30)
        procs["factory-1"] = node(env, "train", "factory-1", task_id, tmp_path / "factory-1.restarted.log", "--data", str(data["factory-1"]))
        r2 = fl.open_round(consortium.sender("gov-a"), task_id)
        second = wait_round(fl, task_id, r2, timeout=240, check=processes_alive(procs))
        for p in procs.values():
            p.wait(timeout=60)  # every node exits by itself once the task is complete
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()

    logs = {org: (tmp_path / f"{org}.log").read_text() for org in procs}
    assert first.state == second.state == RoundState.FINALIZED, logs
    assert second.base_model_hash == first.result_hash
    assert set(second.committed) == {consortium.accounts[o].address for o in TRAINERS}
    assert "round 1: committed" not in (tmp_path / "factory-1.restarted.log").read_text()
    assert {org: p.returncode for org, p in procs.items()} == {org: 0 for org in procs}, logs
    # The final model is a canonical file `fedpm evaluate` understands.
    model_path = tmp_path / "global.safetensors"
    model_path.write_bytes(store.cat(second.result_cid))
    test_file, rul_file = tmp_path / "test.txt", tmp_path / "rul.txt"
    cmapss.write_test_files(cmapss.load_file(data["factory-2"]), test_file, rul_file, seed=1)
    out = subprocess.run([sys.executable, "-m", "fedpm.cli", "evaluate", "--model", str(model_path), "--test", str(test_file), "--rul", str(rul_file), "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"rmse", "score"} and np.isfinite(result["rmse"]) and result["rmse"] < 125
