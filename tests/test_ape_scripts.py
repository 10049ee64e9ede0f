"""The ape scripts against a real chain: `ape run round` opens a round through ape's connection."""

from __future__ import annotations

import os

import numpy as np
import pytest

from chain.keystore import Keystore
from fl_node.coordinator import publish_task
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.spec import TaskSpec
from fl_node.storage.local import LocalStore
from tests.conftest import TEST_PASSWORD, dev_key

pytestmark = pytest.mark.usefixtures("snapshot")


def test_ape_run_round_opens_the_next_round(ape, consortium, tmp_path):
    fl = FederatedLearning(consortium.ctx)
    named = [("00.w", np.zeros(3, np.float32))]
    spec = TaskSpec.from_dict({"task": "t", "train": {"epochs": 1, "batch_size": 32}})
    task_id = publish_task(fl, consortium.sender("gov-a"), LocalStore(tmp_path / "store"), spec, named, rounds=1, min_participants=1,
                           trainers=[consortium.accounts["factory-1"].address], aggregators=[consortium.accounts["agg-1"].address])
    Keystore(tmp_path / "keystores", consortium.ctx.settings.keys).create("gov-a", private_key=dev_key("gov-a").key)
    url = consortium.ctx.w3.provider.endpoint_uri
    env = {**os.environ, "FEDPM_HOME": str(tmp_path), "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_CHAIN_DEPLOYMENT_FILE": str(consortium.ctx.deployment_path)}

    out = ape.run("run", "round", "--task", str(task_id), "--as", "gov-a", "--network", f"ethereum:local:{url}", env=env)

    assert out.returncode == 0, out.stdout + out.stderr
    assert f"opened round 1 of task {task_id}" in out.stdout
    assert fl.round(task_id, 1).state == RoundState.OPEN
