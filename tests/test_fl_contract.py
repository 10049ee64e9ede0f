"""FederatedLearning on a real anvil, driven by the real aggregator node logic and a shared content store.

Trainer updates here are small named arrays committed directly, so these tests exercise the contract and the
aggregators without TensorFlow; tests/test_fl_processes.py runs real training in separate processes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from eth_utils import keccak

from chain.events import events
from chain.reverts import (AlreadyVoted, CommitWindowClosed, EmptyUpdate, InvalidInclusion, InvalidTaskConfig, MissingRole, NotCoordinator,
                           NotCurrentRound, NotTaskAggregator, NotTaskTrainer, RoundInProgress, TaskCompleted, UpdateAlreadyCommitted,
                           WrongRoundState)
from chain.sender import TxSender
from fedpm.consortium.client import Role
from fl_node.coordinator import publish_task, round_report
from fl_node.modelfile import decode_weights, encode_weights
from fl_node.nodes import AggregatorNode
from fl_node.rounds import FederatedLearning, RoundState, TaskConfig
from fl_node.spec import TaskSpec
from fl_node.storage.local import LocalStore
from tests.conftest import advance_time, dev_key

pytestmark = pytest.mark.usefixtures("snapshot")

SPEC = TaskSpec.from_dict({"task": "unit-test", "train": {"epochs": 1, "batch_size": 32}, "aggregation": {"rule": "fedavg", "params": {}}})
TRAINERS = ["factory-1", "factory-2", "factory-3"]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]


def model(value: float) -> list[tuple[str, np.ndarray]]:
    return [("00.w", np.full((3, 2), value, np.float32)), ("01.b", np.full((2,), value, np.float32))]


@pytest.fixture
def env(consortium, tmp_path):
    fl = FederatedLearning(consortium.ctx)
    store = LocalStore(tmp_path / "store")
    addr = {o: consortium.accounts[o].address for o in TRAINERS + AGGREGATORS + ["gov-a", "gov-b"]}
    extra: dict[str, TxSender] = {}

    def sender(org: str) -> TxSender:
        return extra[org] if org in extra else consortium.sender(org)

    def admit_aggregator(org: str) -> None:
        """Admit one more AGGREGATOR org (undone with the chain snapshot after the test)."""
        account = dev_key(org)
        consortium.registry.admit(consortium.sender("gov-a"), [consortium.sender("gov-b")], org, org, Role.AGGREGATOR, account.address)
        extra[org], addr[org] = consortium.ctx.sender(account), account.address

    def new_task(min_participants: int = 2, commit_window: int = 600, trainers: list[str] = TRAINERS, aggregators: list[str] = AGGREGATORS,
                 rounds: int = 2, quorum: int = 0, aggregation_window: int = 600) -> int:
        return publish_task(fl, consortium.sender("gov-a"), store, SPEC, model(0.0), trainers=[addr[t] for t in trainers],
                            aggregators=[addr[a] for a in aggregators], rounds=rounds, min_participants=min_participants,
                            commit_window=commit_window, aggregation_window=aggregation_window, quorum=quorum)

    def commit(task_id: int, r: int, org: str, value: float | None = None, n: int = 10, blob: bytes | None = None, cid: str | None = None):
        blob = blob if blob is not None else encode_weights(model(value), SPEC.to_json())
        cid = cid or store.add(blob)
        return fl.commit(consortium.sender(org), task_id, r, keccak(blob), cid, n, 0.5)

    def aggregator(org: str, **kw) -> AggregatorNode:
        return AggregatorNode(fl, sender(org), store, 0, tmp_path / org, log=lambda _: None, retries=1, **kw)

    class Env:
        pass

    e = Env()
    e.fl, e.store, e.addr, e.new_task, e.commit, e.aggregator, e.consortium = fl, store, addr, new_task, commit, aggregator, consortium
    e.sender, e.admit_aggregator = sender, admit_aggregator
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
    good = encode_weights(model(9.0), SPEC.to_json())
    env.fl.commit(env.consortium.sender("factory-2"), task_id, r, keccak(good), env.store.add(encode_weights(model(7.0), SPEC.to_json())), 10, 0.1)  # bytes != hash
    nan = model(1.0)
    nan[0][1][0, 0] = np.nan
    env.commit(task_id, r, "factory-3", blob=encode_weights(nan, SPEC.to_json()))

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
    ghost = encode_weights(model(5.0), SPEC.to_json())
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
    assert env.fl.round(task_id, r2).base_model_hash == env.fl.task(task_id).model_hash == keccak(encode_weights(model(0.0), SPEC.to_json()))


def test_a_vote_that_became_the_finalizing_one_is_resent_with_fresh_gas(env):
    """The race seen with real processes: gas estimated before another vote landed is too low once ours finalizes."""
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


# ---------------------------------------------------------------- task configuration

ZERO = b"\0" * 32
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
WINDOWS, HASHES, MAJORITY = "rounds and windows must be positive", "spec and initial model hashes", "quorum must be a majority of the aggregators"


def config(env, **changes) -> TaskConfig:
    """A valid config (3 trainers, 3 aggregators, default quorum, 2 rounds) with `changes`; org names become addresses."""
    for key in ("trainers", "aggregators"):
        if key in changes:
            changes[key] = [env.addr[o] for o in changes[key]]
    base = TaskConfig(keccak(b"spec"), CID, keccak(b"model"), CID, [env.addr[t] for t in TRAINERS], [env.addr[a] for a in AGGREGATORS],
                      min_participants=2, commit_window=600, aggregation_window=600, quorum=0, rounds=2)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("changes,reason", [
    ({"min_participants": 0}, "minParticipants"),
    ({"min_participants": 4}, "minParticipants"),  # more than the 3 trainers
    ({"rounds": 0}, WINDOWS),
    ({"commit_window": 0}, WINDOWS),
    ({"aggregation_window": 0}, WINDOWS),
    ({"spec_hash": ZERO}, HASHES),
    ({"initial_model_hash": ZERO}, HASHES),
    ({"aggregators": []}, MAJORITY),
    ({"quorum": 1}, MAJORITY),  # 1 of 3
    ({"aggregators": ["agg-1", "agg-2"], "quorum": 1}, MAJORITY),  # half of 2 is no majority
    ({"quorum": 4}, MAJORITY),  # more than the 3 aggregators
    ({"trainers": ["factory-1", "factory-2", "factory-1"]}, "duplicate trainer"),
    ({"aggregators": ["agg-1", "agg-2", "agg-1"]}, "duplicate aggregator"),
    ({"max_samples": 0}, "maxSamples"),
], ids=["no-participants", "participants-over-trainers", "no-rounds", "no-commit-window", "no-aggregation-window", "no-spec-hash",
        "no-model-hash", "no-aggregators", "quorum-1-of-3", "quorum-1-of-2", "quorum-4-of-3", "duplicate-trainer", "duplicate-aggregator",
        "no-max-samples"])
def test_invalid_task_config_is_refused_with_its_reason(env, changes, reason):
    before = env.fl.task_count()

    with pytest.raises(InvalidTaskConfig) as err:
        env.fl.create_task(env.consortium.sender("gov-a"), config(env, **changes))

    assert err.value.error_args == {"reason": reason}
    assert env.fl.task_count() == before


@pytest.mark.parametrize("aggregators,quorum,expected", [
    (["agg-1"], 0, 1), (["agg-1", "agg-2"], 0, 2), (AGGREGATORS, 0, 2), (AGGREGATORS, 2, 2), (AGGREGATORS, 3, 3),
])
def test_quorum_defaults_to_two_thirds_and_may_be_any_strict_majority(env, aggregators, quorum, expected):
    task_id = env.fl.create_task(env.consortium.sender("gov-a"), config(env, aggregators=aggregators, quorum=quorum, min_participants=3))

    assert env.fl.task(task_id).quorum == expected


# ---------------------------------------------------------------- opening rounds


def open_with_commits(env, task_id: int, value: float = 1.0) -> int:
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for org in TRAINERS:
        env.commit(task_id, r, org, value)  # the last one closes the commits
    return r


def test_only_the_coordinator_opens_rounds(env):
    task_id = env.new_task()

    for org in ("gov-b", "factory-1"):  # another governor is no coordinator either
        with pytest.raises(NotCoordinator) as err:
            env.fl.open_round(env.consortium.sender(org), task_id)
        assert (err.value.error_args["taskId"], err.value.error_args["account"].lower()) == (task_id, env.addr[org].lower())
    assert env.fl.task(task_id).rounds_started == 0
    assert env.fl.open_round(env.consortium.sender("gov-a"), task_id) == 1


def test_no_round_opens_while_one_is_running(env):
    task_id = env.new_task()
    gov = env.consortium.sender("gov-a")
    r = env.fl.open_round(gov, task_id)

    with pytest.raises(RoundInProgress) as err:
        env.fl.open_round(gov, task_id)  # open, no update yet
    assert err.value.error_args == {"taskId": task_id, "round": r}
    for org in TRAINERS:
        env.commit(task_id, r, org, 1.0)
    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING
    with pytest.raises(RoundInProgress):
        env.fl.open_round(gov, task_id)
    assert env.fl.task(task_id).rounds_started == 1


def test_failed_rounds_do_not_use_up_the_task_and_none_opens_after_the_last(env):
    task_id = env.new_task(rounds=1, commit_window=60)
    gov = env.consortium.sender("gov-a")
    r1 = env.fl.open_round(gov, task_id)
    advance_time(env.consortium.ctx, 61)  # nobody committed

    r2 = open_with_commits(env, task_id)  # opening applies round 1's expired window first
    run_aggregators(env, task_id)

    assert (r2, env.fl.round(task_id, r1).state, env.fl.round(task_id, r2).state) == (2, RoundState.FAILED, RoundState.FINALIZED)
    assert env.fl.task(task_id).done
    with pytest.raises(TaskCompleted) as err:
        env.fl.open_round(gov, task_id)
    assert err.value.error_args == {"taskId": task_id}
    assert env.fl.task(task_id).rounds_started == 2


@pytest.mark.parametrize("field,empty", [("hash", ZERO), ("cid", ""), ("num_samples", 0)])
def test_an_empty_update_is_refused_and_the_trainer_may_still_commit(env, field, empty):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    blob = encode_weights(model(1.0), SPEC.to_json())
    good = {"hash": keccak(blob), "cid": env.store.add(blob), "num_samples": 10}
    bad = {**good, field: empty}
    trainer = env.consortium.sender("factory-1")

    with pytest.raises(EmptyUpdate):
        env.fl.commit(trainer, task_id, r, bad["hash"], bad["cid"], bad["num_samples"], 0.5)
    assert (env.fl.round(task_id, r).commits, env.fl.update(task_id, r, env.addr["factory-1"]).committed_at) == (0, 0)
    env.fl.commit(trainer, task_id, r, good["hash"], good["cid"], good["num_samples"], 0.5)
    assert env.fl.update(task_id, r, env.addr["factory-1"]).hash == good["hash"]


# ---------------------------------------------------------------- the aggregation deadline


def test_an_expired_aggregation_window_fails_the_round_and_the_next_starts_from_the_last_final_model(env):
    task_id = env.new_task(aggregation_window=300)
    open_with_commits(env, task_id, 1.0)
    run_aggregators(env, task_id)
    last = env.fl.task(task_id).model_hash
    r2 = open_with_commits(env, task_id, 5.0)
    run_aggregators(env, task_id, ["agg-1"])  # one vote: no quorum
    advance_time(env.consortium.ctx, 301)

    rep = round_report(env.fl, task_id, r2)
    agg1 = env.addr["agg-1"]
    with pytest.raises(WrongRoundState) as err:  # the matching vote that would have made the quorum comes too late
        env.fl.vote(env.consortium.sender("agg-2"), task_id, r2, bytes.fromhex(rep.votes[agg1][2:]), rep.vote_cids[agg1],
                    sorted(rep.participants, key=str.lower))
    assert err.value.error_args["state"] == RoundState.FAILED
    receipt = env.fl.advance(env.consortium.sender("factory-1"), task_id)  # anyone may apply the deadline

    (failed,) = env.fl.contract.events.RoundFailed().process_receipt(receipt.raw)
    assert dict(failed["args"]) == {"taskId": task_id, "round": r2, "reason": "no aggregator quorum before the aggregation deadline"}
    assert env.fl.round(task_id, r2).state == RoundState.FAILED
    task = env.fl.task(task_id)
    assert (task.rounds_finalized, task.model_hash) == (1, last)
    r3 = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    assert env.fl.round(task_id, r3).base_model_hash == last != keccak(encode_weights(model(0.0), SPEC.to_json()))


# ---------------------------------------------------------------- lying aggregators in every position


def votes_for_hash(env, task_id: int, r: int) -> dict[str, int]:
    """Each aggregator's vote -> how many votes its (hash, included list) had once it was cast (event AggregateVoted)."""
    logs = events(env.fl.contract.events.AggregateVoted, from_block=0, argument_filters={"taskId": task_id, "round": r})
    return {log["args"]["aggregator"]: log["args"]["votesForHash"] for log in logs}


def test_a_liar_voting_between_the_honest_aggregators_is_not_counted_for_them(env):
    task_id = env.new_task()
    r = open_with_commits(env, task_id)
    run_aggregators(env, task_id, ["agg-1"])
    run_aggregators(env, task_id, ["agg-3"], byzantine=True)

    view = env.fl.round(task_id, r)
    assert (view.state, view.votes) == (RoundState.AGGREGATING, 2)  # two votes, but for two different aggregates
    run_aggregators(env, task_id, ["agg-2"])

    rep = round_report(env.fl, task_id, r)
    a = env.addr
    assert rep.state == "finalized" and rep.model_hash == rep.votes[a["agg-1"]] == rep.votes[a["agg-2"]] != rep.votes[a["agg-3"]]
    assert rep.dissenters == [a["agg-3"]]
    assert votes_for_hash(env, task_id, r) == {a["agg-1"]: 1, a["agg-3"]: 1, a["agg-2"]: 2}


def test_a_liar_voting_after_the_honest_quorum_cannot_change_the_result(env):
    task_id = env.new_task()
    r = open_with_commits(env, task_id)
    run_aggregators(env, task_id, ["agg-1", "agg-2"])
    final = env.fl.round(task_id, r)

    assert run_aggregators(env, task_id, ["agg-3"], byzantine=True) == [None]  # the node sees the round final
    with pytest.raises(WrongRoundState) as err:
        env.fl.vote(env.consortium.sender("agg-3"), task_id, r, keccak(b"forged"), CID, sorted(final.committed, key=str.lower))

    assert err.value.error_args["state"] == RoundState.FINALIZED
    after = env.fl.round(task_id, r)
    assert (after.state, after.result_hash, after.votes) == (RoundState.FINALIZED, final.result_hash, 2)
    assert env.fl.task(task_id).model_hash == final.result_hash and not env.fl.has_voted(task_id, r, env.addr["agg-3"])
    assert round_report(env.fl, task_id, r).dissenters == []


def test_under_a_unanimous_quorum_a_liar_voting_last_blocks_the_round_until_its_deadline_fails_it(env):
    task_id = env.new_task(quorum=3, aggregation_window=300)
    r = open_with_commits(env, task_id)
    run_aggregators(env, task_id, ["agg-1", "agg-2"])
    run_aggregators(env, task_id, ["agg-3"], byzantine=True)

    view = env.fl.round(task_id, r)
    assert (view.state, view.votes, view.result_hash) == (RoundState.AGGREGATING, 3, ZERO)  # three votes, two agree: not 3 of 3
    a = env.addr
    assert votes_for_hash(env, task_id, r) == {a["agg-1"]: 1, a["agg-2"]: 2, a["agg-3"]: 1}
    advance_time(env.consortium.ctx, 301)
    env.fl.advance(env.consortium.sender("factory-1"), task_id)

    rep = round_report(env.fl, task_id, r)
    assert (rep.state, rep.model_hash, rep.failure) == ("failed", "", "no aggregator quorum before the aggregation deadline")
    assert env.fl.task(task_id).model_hash == keccak(encode_weights(model(0.0), SPEC.to_json()))


def test_two_of_four_aggregators_are_no_quorum_and_a_liar_cannot_make_the_third(env):
    env.admit_aggregator("agg-4")
    four = AGGREGATORS + ["agg-4"]
    with pytest.raises(InvalidTaskConfig):
        env.new_task(aggregators=four, quorum=2)  # half of 4 is no majority
    task_id = env.new_task(aggregators=four)
    assert env.fl.task(task_id).quorum == 3  # ceil(2n/3)
    r = open_with_commits(env, task_id)

    run_aggregators(env, task_id, ["agg-1", "agg-2"])
    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING
    run_aggregators(env, task_id, ["agg-3"], byzantine=True)
    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING
    run_aggregators(env, task_id, ["agg-4"])

    rep = round_report(env.fl, task_id, r)
    a = env.addr
    assert rep.state == "finalized" and rep.model_hash == rep.votes[a["agg-1"]] == rep.votes[a["agg-4"]] != rep.votes[a["agg-3"]]
    assert rep.dissenters == [a["agg-3"]]


def test_votes_count_together_only_for_the_same_aggregate_over_the_same_updates(env):
    task_id = env.new_task()
    r = open_with_commits(env, task_id)
    everyone = sorted([env.addr[t] for t in TRAINERS], key=str.lower)
    h = keccak(b"aggregate")
    env.fl.vote(env.consortium.sender("agg-1"), task_id, r, h, CID, everyone)
    env.fl.vote(env.consortium.sender("agg-2"), task_id, r, h, CID, everyone[:2])  # same hash, claims another set

    assert env.fl.round(task_id, r).state == RoundState.AGGREGATING
    env.fl.vote(env.consortium.sender("agg-3"), task_id, r, h, CID, everyone)

    rep = round_report(env.fl, task_id, r)
    assert (rep.state, rep.excluded, rep.dissenters) == ("finalized", [], [env.addr["agg-2"]])
