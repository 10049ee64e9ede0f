"""FederatedLearning on a real anvil, driven by the real aggregator node logic and a shared content store.

Trainer updates here are small named arrays committed directly, so these tests exercise the contract and the
aggregators without TensorFlow; tests/test_fl_processes.py runs real training in separate processes.
"""

from __future__ import annotations

import numpy as np
import pytest
from eth_utils import keccak

from chain.reverts import (AlreadyVoted, CommitWindowClosed, InvalidInclusion, MissingRole, NotCurrentRound, NotTaskAggregator,
                           NotTaskTrainer, UpdateAlreadyCommitted, WrongRoundState)
from fl_node.coordinator import publish_task, round_report
from fl_node.modelfile import decode_weights, encode_weights
from fl_node.nodes import AggregatorNode
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tests.conftest import advance_time

pytestmark = pytest.mark.usefixtures("snapshot")

SPEC = {"task": "unit-test", "aggregation": {"rule": "fedavg", "params": {}}}
TRAINERS = ["factory-1", "factory-2", "factory-3"]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]


def model(value: float) -> list[tuple[str, np.ndarray]]:
    return [("00.w", np.full((3, 2), value, np.float32)), ("01.b", np.full((2,), value, np.float32))]


@pytest.fixture
def env(consortium, tmp_path):
    fl = FederatedLearning(consortium.ctx)
    store = LocalStore(tmp_path / "store")
    addr = {o: consortium.accounts[o].address for o in TRAINERS + AGGREGATORS + ["gov-a"]}

    def new_task(min_participants: int = 2, commit_window: int = 600, trainers: list[str] = TRAINERS) -> int:
        return publish_task(fl, consortium.sender("gov-a"), store, SPEC, model(0.0), trainers=[addr[t] for t in trainers],
                            aggregators=[addr[a] for a in AGGREGATORS], rounds=2, min_participants=min_participants,
                            commit_window=commit_window, aggregation_window=600)

    def commit(task_id: int, r: int, org: str, value: float | None = None, n: int = 10, blob: bytes | None = None, cid: str | None = None):
        blob = blob if blob is not None else encode_weights(model(value), SPEC)
        cid = cid or store.add(blob)
        return fl.commit(consortium.sender(org), task_id, r, keccak(blob), cid, n, 0.5)

    def aggregator(org: str, **kw) -> AggregatorNode:
        return AggregatorNode(fl, consortium.sender(org), store, 0, tmp_path / org, log=lambda _: None, retries=1, **kw)

    class Env:
        pass

    e = Env()
    e.fl, e.store, e.addr, e.new_task, e.commit, e.aggregator, e.consortium = fl, store, addr, new_task, commit, aggregator, consortium
    return e


def run_aggregators(env, task_id: int, orgs=AGGREGATORS, **kw) -> list[str | None]:
    out = []
    for org in orgs:
        node = env.aggregator(org, **kw)
        node.task_id = task_id
        out.append(node.step())
    return out


def test_round_finalizes_on_quorum_with_the_weighted_average(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 1.0, n=10)
    env.commit(task_id, r, "factory-2", 4.0, n=30)
    assert env.fl.round(task_id, r).state == RoundState.COLLECTING
    env.commit(task_id, r, "factory-3", 2.0, n=60)  # everyone in: commits close at once

    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING
    run_aggregators(env, task_id)

    view = env.fl.round(task_id, r)
    assert view.state == RoundState.FINALIZED
    result = dict(decode_weights(env.store.cat(view.result_cid)))
    assert np.allclose(result["00.w"], (10 * 1 + 30 * 4 + 60 * 2) / 100)
    assert keccak(env.store.cat(view.result_cid)) == view.result_hash
    rep = round_report(env.fl, task_id, r)
    assert len(rep.votes) == 2  # the third aggregator found the round final and did nothing
    assert env.fl.task(task_id).model_hash == view.result_hash


def test_trainer_commit_rules(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 1.0)

    with pytest.raises(UpdateAlreadyCommitted):
        env.commit(task_id, r, "factory-1", 2.0)
    with pytest.raises(NotTaskTrainer):
        env.commit(task_id, r, "factory-4", 2.0)
    with pytest.raises(NotCurrentRound):
        env.commit(task_id, r + 1, "factory-2", 2.0)
    advance_time(env.consortium.ctx, 601)
    with pytest.raises(CommitWindowClosed):
        env.commit(task_id, r, "factory-2", 2.0)


def test_outsider_cannot_create_tasks(env):
    with pytest.raises(MissingRole):
        publish_task(env.fl, env.consortium.sender("factory-1"), env.store, SPEC, model(0.0), trainers=[env.addr["factory-1"]],
                     aggregators=[env.addr["agg-1"]], rounds=1, min_participants=1)


def test_tampered_and_malformed_updates_are_left_out_by_every_aggregator(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 1.0)
    good = encode_weights(model(9.0), SPEC)
    env.fl.commit(env.consortium.sender("factory-2"), task_id, r, keccak(good), env.store.add(encode_weights(model(7.0), SPEC)), 10, 0.1)  # bytes != hash
    nan = model(1.0)
    nan[0][1][0, 0] = np.nan
    env.commit(task_id, r, "factory-3", blob=encode_weights(nan, SPEC))

    lines = run_aggregators(env, task_id)

    view = env.fl.round(task_id, r)
    assert view.state == RoundState.FINALIZED
    assert np.allclose(dict(decode_weights(env.store.cat(view.result_cid)))["00.w"], 1.0)
    rep = round_report(env.fl, task_id, r)
    assert sorted(rep.excluded) == sorted([env.addr["factory-2"], env.addr["factory-3"]])
    assert "NaN" in lines[0] and "do not match" in lines[0]


def test_missing_storage_object_is_retried_then_left_out(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 1.0)
    env.commit(task_id, r, "factory-2", 3.0)
    ghost = encode_weights(model(5.0), SPEC)
    env.commit(task_id, r, "factory-3", blob=ghost, cid="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")  # never stored

    run_aggregators(env, task_id)

    rep = round_report(env.fl, task_id, r)
    assert rep.state == "finalized"
    assert rep.excluded == [env.addr["factory-3"]]


def test_a_lying_aggregator_cannot_finalize_alone_and_is_recorded(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for i, org in enumerate(TRAINERS):
        env.commit(task_id, r, org, float(i))

    liar = env.aggregator("agg-3", byzantine=True)
    liar.task_id = task_id
    liar.step()
    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING  # one vote is not a quorum
    run_aggregators(env, task_id, ["agg-1", "agg-2"])

    rep = round_report(env.fl, task_id, r)
    assert rep.state == "finalized"
    assert rep.votes[env.addr["agg-1"]] == rep.model_hash != rep.votes[env.addr["agg-3"]]
    assert rep.dissenters == [env.addr["agg-3"]]


def test_crashed_aggregator_the_remaining_quorum_finalizes(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for org in TRAINERS:
        env.commit(task_id, r, org, 1.0)

    run_aggregators(env, task_id, ["agg-1", "agg-3"])  # agg-2 never shows up

    assert env.fl.round(task_id, r).state == RoundState.FINALIZED


def test_vote_rules(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for org in TRAINERS:
        env.commit(task_id, r, org, 1.0)
    h, cid = keccak(b"x"), "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    included = sorted([env.addr[t] for t in TRAINERS], key=str.lower)
    agg1 = env.consortium.sender("agg-1")
    env.fl.vote(agg1, task_id, r, h, cid, included)

    with pytest.raises(AlreadyVoted):
        env.fl.vote(agg1, task_id, r, h, cid, included)
    with pytest.raises(NotCurrentRound):
        env.fl.vote(env.consortium.sender("agg-2"), task_id, r + 1, h, cid, included)
    with pytest.raises(InvalidInclusion):
        env.fl.vote(env.consortium.sender("agg-2"), task_id, r, h, cid, list(reversed(included)))
    with pytest.raises(NotTaskAggregator):
        env.fl.vote(env.consortium.sender("factory-1"), task_id, r, h, cid, included)


def test_dropped_trainer_round_goes_on_with_min_participants(env):
    task_id = env.new_task(min_participants=2, commit_window=120)
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 2.0)
    env.commit(task_id, r, "factory-2", 4.0)  # factory-3 dropped out

    advance_time(env.consortium.ctx, 121)
    lines = run_aggregators(env, task_id)  # the first one closes the window on chain
    run_aggregators(env, task_id)

    view = env.fl.round(task_id, r)
    assert "expired" in lines[0]
    assert view.state == RoundState.FINALIZED
    assert np.allclose(dict(decode_weights(env.store.cat(view.result_cid)))["01.b"], 3.0)


def test_too_few_participants_fail_the_round_and_the_next_starts_from_the_last_model(env):
    task_id = env.new_task(min_participants=2, commit_window=60)
    gov = env.consortium.sender("gov-a")
    r = env.fl.open_round(gov, task_id)
    env.commit(task_id, r, "factory-1", 2.0)
    advance_time(env.consortium.ctx, 61)

    with pytest.raises(WrongRoundState):
        env.fl.vote(env.consortium.sender("agg-1"), task_id, r, keccak(b"x"), "Qm", [env.addr["factory-1"]])
    r2 = env.fl.open_round(gov, task_id)

    assert env.fl.round(task_id, r).state == RoundState.FAILED
    assert env.fl.round(task_id, r2).base_model_hash == env.fl.task(task_id).model_hash == keccak(encode_weights(model(0.0), SPEC))


def test_a_vote_that_became_the_finalizing_one_is_resent_with_fresh_gas(env):
    """The race seen with real processes: gas estimated before another vote landed is too low once ours finalizes."""
    from chain.sender import TxSender

    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for org in TRAINERS:
        env.commit(task_id, r, org, 1.0)
    h, cid = keccak(b"agg"), "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    included = sorted([env.addr[t] for t in TRAINERS], key=str.lower)
    agg1 = env.consortium.sender("agg-1")
    stale = agg1._estimate({"from": agg1.address, "to": env.fl.contract.address,
                            "data": env.fl.contract.functions.voteAggregate(task_id, r, h, cid, included)._encode_transaction_data(), "value": 0})

    class StaleFirstEstimate(TxSender):
        estimates: list[int] = [stale]

        def _estimate(self, tx):
            return self.estimates.pop() if self.estimates else super()._estimate(tx)

    env.fl.vote(env.consortium.sender("agg-2"), task_id, r, h, cid, included)  # now agg-1's vote is the finalizing one
    receipt = env.fl.vote(StaleFirstEstimate(agg1.w3, agg1.account, agg1.decoder), task_id, r, h, cid, included)

    assert env.fl.round(task_id, r).state == RoundState.FINALIZED
    assert receipt.gas_used > stale  # the retry carried enough gas
