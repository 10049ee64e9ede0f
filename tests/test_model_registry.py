"""The model registry on a real anvil: finalized rounds are versions, pulls are checked against the finalized hash,
bad names are one-line errors, and the CLI lists, shows, pulls and pins them."""

from __future__ import annotations

import json

import pytest
from eth_utils import keccak

from fedpm.models.choice import ChoiceLog, resolve
from fedpm.models.registry import ModelIntegrityError, ModelRegistry, RoundNotFinalized, UnknownTask
from fl_node.storage.cid import cid_of
from tests.serve_helpers import TRAINERS, fl_env
from tests.sensor_helpers import fedpm, gateway_env

pytestmark = pytest.mark.usefixtures("snapshot")


@pytest.fixture
def env(consortium, tmp_path):
    return fl_env(consortium, tmp_path / "home" / "store", tmp_path / "work")


def test_every_finalized_round_is_a_version_with_what_its_trainers_reported(env, consortium):
    r1 = env.finalize(0.6)
    r2 = env.finalize(0.4)
    registry = ModelRegistry(env.fl, env.store)

    versions = registry.versions(env.task_id)

    assert [v.round for v in versions] == [r1, r2] == [1, 2]
    v2 = versions[-1]
    view = env.fl.round(env.task_id, r2)
    assert v2.model_hash == "0x" + view.result_hash.hex() and v2.cid == view.result_cid
    assert set(v2.trainers) == {consortium.accounts[t].address for t in TRAINERS}
    assert sorted(r.samples for r in v2.reports) == [10, 11, 12] and v2.samples == 33
    assert v2.training_loss == pytest.approx((10 * 0.25 + 11 * 0.26 + 12 * 0.27) / 33)
    assert v2.votes >= 2 and v2.finalized_at == consortium.ctx.w3.eth.get_block(v2.block)["timestamp"]
    assert registry.version(env.task_id) == v2 and registry.version(env.task_id, 1) == versions[0]
    assert keccak(registry.pull(v2)) == view.result_hash


def test_bad_names_and_tampered_bytes_are_one_line_errors(env):
    env.finalize(0.6)
    env.fl.open_round(env.consortium.sender("gov-a"), env.task_id)  # round 2 open, not finalized
    registry = ModelRegistry(env.fl, env.store, retries=0)

    with pytest.raises(UnknownTask, match=r"task 99 does not exist"):
        registry.version(99)
    with pytest.raises(RoundNotFinalized, match=r"round 2 of task \d+ is open, not finalized"):
        registry.version(env.task_id, 2)
    with pytest.raises(RoundNotFinalized, match=r"has no round 7"):
        registry.version(env.task_id, 7)
    v1 = registry.version(env.task_id, 1)
    path = env.store._object(v1.cid)  # the local store keeps an object under its CID: swap in other bytes
    assert path.exists()
    path.write_bytes(b"not the finalized model")
    with pytest.raises(ModelIntegrityError) as err:
        registry.pull(v1)
    assert "\n" not in str(err.value) and v1.model_hash in err.value.message and "refused" in err.value.message


def test_a_pin_rolls_back_and_latest_returns(env, tmp_path):
    env.finalize(0.6)
    env.finalize(0.4)
    registry = ModelRegistry(env.fl, env.store)
    log = ChoiceLog(tmp_path / "choices.jsonl")
    versions = registry.versions(env.task_id)

    assert resolve(versions, log.current(env.task_id)).round == 2
    log.pin(versions[0], reason="round 2 over-predicts on press line")
    assert resolve(versions, log.current(env.task_id)).round == 1
    log.follow_latest(env.task_id)
    assert resolve(versions, log.current(env.task_id)).round == 2
    assert [c.pin for c in log.history(env.task_id)] == [1, None]
    assert json.loads((tmp_path / "choices.jsonl").read_text().splitlines()[0])["reason"] == "round 2 over-predicts on press line"


def test_the_cli_lists_shows_pulls_and_pins(env, consortium, ctx, tmp_path):
    env.finalize(0.6)
    env.finalize(0.4)
    home = tmp_path / "home"
    cli_env = gateway_env(home, ctx, consortium, {})
    task = str(env.task_id)

    listed = fedpm("model", "list", "--task", task, env=cli_env)
    pulled = fedpm("model", "pull", "--task", task, "--round", "1", "-o", str(tmp_path / "m1.safetensors"), env=cli_env)
    pinned = fedpm("model", "use", "--task", task, "--round", "1", "--reason", "rollback test", env=cli_env)
    listed_after = fedpm("model", "list", "--task", task, "--json", env=cli_env)
    not_final = fedpm("model", "pull", "--task", task, "--round", "3", "-o", str(tmp_path / "x"), env=cli_env)
    no_task = fedpm("model", "show", "--task", "42", env=cli_env)

    assert listed.returncode == 0 and "* " in listed.stdout.splitlines()[-1], listed.stdout + listed.stderr
    assert pulled.returncode == 0 and "verified" in pulled.stdout
    v1 = ModelRegistry(env.fl, env.store).version(env.task_id, 1)
    assert "0x" + keccak((tmp_path / "m1.safetensors").read_bytes()).hex() == v1.model_hash and cid_of((tmp_path / "m1.safetensors").read_bytes()) == v1.cid
    assert pinned.returncode == 0 and json.loads(listed_after.stdout)["served_round"] == 1
    for bad, words in ((not_final, "has no round 3"), (no_task, "task 42 does not exist")):
        assert bad.returncode == 1 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
