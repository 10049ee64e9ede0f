"""Issue 11, attacks 2 and 3 performed with real transactions on anvil: a trainer inflating its sample count to
dictate FedAvg, and one organization holding two aggregator (or trainer) seats of a task; and (attack 6) the gas of
a task's loops at the maximum sizes."""

from __future__ import annotations

import dataclasses

import pytest
from eth_utils import keccak

from chain.reverts import InvalidTaskConfig, SameOrganization, TooManySamples
from fedpm.consortium.client import Role
from fl_node.modelfile import encode_weights
from fl_node.rounds import DEFAULT_MAX_SAMPLES, RoundState, TaskConfig
from tests.conftest import dev_key
from tests.test_fl_contract import SPEC, env, model  # noqa: F401

pytestmark = pytest.mark.usefixtures("snapshot")


def test_attack2_a_trainer_claiming_2_62_samples_is_refused_on_chain(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)

    with pytest.raises(TooManySamples):  # the attack: weight 2^62 makes the FedAvg result equal this update
        env.commit(task_id, r, "factory-1", 9.0, n=2**62)
    env.commit(task_id, r, "factory-1", 9.0, n=DEFAULT_MAX_SAMPLES)  # the bound itself is allowed

    assert env.fl.update(task_id, r, env.addr["factory-1"]).num_samples == DEFAULT_MAX_SAMPLES == env.fl.task(task_id).max_samples


def test_attack2_aggregators_apply_the_tasks_bound_identically(env):
    """Every aggregator excludes an over-bound count the same way, from the task view (here a bound of 20 read
    back from a task whose trainers claimed 10 and 30 samples)."""
    task_id = env.new_task(min_participants=2)
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-1", 1.0, n=10)
    env.commit(task_id, r, "factory-2", 4.0, n=30)
    env.commit(task_id, r, "factory-3", 2.0, n=10)
    task, rnd = env.fl.task(task_id), env.fl.round(task_id, r)
    assert rnd.state == RoundState.AGGREGATING
    bounded = dataclasses.replace(task, max_samples=20)

    results = [env.aggregator(org).compute(bounded, rnd, SPEC) for org in ("agg-1", "agg-2", "agg-3")]

    blobs = {encode_weights(agg, SPEC.to_json()) for agg, _, _ in results}
    assert len(blobs) == 1  # the same bytes everywhere
    aggregate, included, excluded = results[0]
    assert sorted(included) == sorted([env.addr["factory-1"], env.addr["factory-3"]])
    assert [(t, why) for t, why in excluded] == [(env.addr["factory-2"], "sample count 30 out of range")]
    assert all(float(a.ravel()[0]) == pytest.approx(1.5) for _, a in aggregate)


def test_attack3_one_org_with_two_aggregator_accounts_cannot_hold_a_quorum(env):
    second = dev_key("agg-1-second")
    env.consortium.registry.enroll(env.consortium.sender("agg-1"), env.consortium.ctx.sender(second))
    env.addr["agg-1-second"] = second.address

    with pytest.raises(SameOrganization):  # the attack: agg-1's two votes would be a 2-of-3 quorum on their own
        env.new_task(aggregators=["agg-1", "agg-1-second", "agg-2"], quorum=2)

    assert env.fl.task_count() == 0 or all(second.address not in env.fl.task(t).aggregators for t in range(env.fl.task_count()))


def test_attack3_one_org_cannot_enrol_two_trainers(env):
    second = dev_key("factory-1-second")
    env.consortium.registry.enroll(env.consortium.sender("factory-1"), env.consortium.ctx.sender(second))
    env.addr["factory-1-second"] = second.address

    with pytest.raises(SameOrganization):  # the attack: one org's data counted twice (and twice its weight)
        env.new_task(trainers=["factory-1", "factory-1-second", "factory-2"])


def _move_account(env, account: str, into: str) -> None:
    """`account` (a task participant's key) leaves its org by itself and joins org `into` on that org's offer."""
    reg = env.consortium.registry
    moved = env.sender(account)
    reg.remove_account(moved, moved.address)
    reg.enroll(env.sender(into), moved)
    assert reg.org_of(moved.address) == reg.org_of(env.addr[into]) == into


def test_attack3_an_aggregator_account_moved_into_another_org_after_the_task_does_not_vote_twice_for_it(env):
    """The task was created with one aggregator per org; then agg-1's key leaves agg-1 and joins agg-2. Both agg-2
    accounts still hold a seat: two votes of agg-2 would be a 2-of-3 quorum of one organization."""
    task_id = env.new_task(quorum=2)
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    for org in ("factory-1", "factory-2", "factory-3"):
        env.commit(task_id, r, org, 1.0)
    _move_account(env, "agg-1", into="agg-2")
    included = sorted(env.fl.round(task_id, r).committed)
    env.fl.vote(env.sender("agg-2"), task_id, r, keccak(b"agg-2's choice"), "cid", included)

    with pytest.raises(SameOrganization):  # the attack: agg-2's second vote finalizes agg-2's choice alone
        env.fl.vote(env.sender("agg-1"), task_id, r, keccak(b"agg-2's choice"), "cid", included)

    rnd = env.fl.round(task_id, r)
    assert rnd.state == RoundState.AGGREGATING and rnd.votes == 1


def test_attack3_a_trainer_account_moved_into_another_org_does_not_commit_twice_for_it(env):
    task_id = env.new_task()
    r = env.fl.open_round(env.consortium.sender("gov-a"), task_id)
    env.commit(task_id, r, "factory-2", 1.0)
    _move_account(env, "factory-1", into="factory-2")

    with pytest.raises(SameOrganization):  # the attack: factory-2's data counted twice (twice its weight)
        env.commit(task_id, r, "factory-1", 9.0)

    assert env.fl.round(task_id, r).committed == (env.addr["factory-2"],)


# Gas bounds of a task at the maximum sizes FederatedLearning allows (MAX_TRAINERS trainers, MAX_AGGREGATORS
# aggregators, each of its own org): creating it, one commit, and the worst finalizing vote (half the updates
# excluded, every other aggregator dissenting). A 30M-gas block holds each with room to spare.
TASK_GAS_BOUNDS = {"createTask": 6_000_000, "commitUpdate": 200_000, "finalizing voteAggregate": 1_300_000}


def test_attack6_task_loops_stay_within_their_gas_bounds_at_maximum_sizes(env, capsys):
    c, fl = env.consortium, env.fl
    max_t, max_a = fl.contract.functions.MAX_TRAINERS().call(), fl.contract.functions.MAX_AGGREGATORS().call()
    trainers = [c.sender(f"factory-{i}") for i in range(1, 5)]
    aggregators = [c.sender(f"agg-{i}") for i in range(1, 4)]
    for group, role, need in ((trainers, Role.TRAINER, max_t), (aggregators, Role.AGGREGATOR, max_a)):
        for i in range(len(group), need):
            key = dev_key(f"max-{role.name}-{i}")
            c.registry.admit(c.sender("gov-a"), [c.sender("gov-b")], f"max-{role.name[:3]}-{i}", "x", role, key.address)
            group.append(c.ctx.sender(key))
    quorum = max_a // 2 + 1
    config = TaskConfig(keccak(b"spec"), "spec", keccak(b"model"), "model", [s.address for s in trainers], [s.address for s in aggregators],
                        max_t, 600, 600, quorum, 1)
    task_id = fl.task_count()
    gas = {"createTask": c.sender("gov-a").transact(fl.contract.functions.createTask(config.to_chain())).gas_used}
    r = fl.open_round(c.sender("gov-a"), task_id)
    commits = [fl.commit(s, task_id, r, keccak(s.address.encode()), "cid", 10, 0.5).gas_used for s in trainers]
    gas["commitUpdate"] = max(commits)
    everyone = sorted((s.address for s in trainers), key=lambda a: int(a, 16))  # ascending, as the contract checks
    half = everyone[::2]
    for s in aggregators[: max_a - quorum]:  # dissenters: another hash over every update
        fl.vote(s, task_id, r, keccak(b"other"), "cid-other", everyone)
    votes = [fl.vote(s, task_id, r, keccak(b"agg"), "cid-agg", half).gas_used for s in aggregators[max_a - quorum:]]
    gas["finalizing voteAggregate"] = votes[-1]
    with capsys.disabled():
        print(f"\ntask gas at maximum sizes ({max_t} trainers, {max_a} aggregators): {gas} (bounds {TASK_GAS_BOUNDS})")

    assert fl.round(task_id, r).state == RoundState.FINALIZED
    assert all(gas[k] <= bound for k, bound in TASK_GAS_BOUNDS.items()), gas
    one_too_many = [dev_key(f"t{i}").address for i in range(max_t + 1)]
    with pytest.raises(InvalidTaskConfig, match="too many participants"):
        c.sender("gov-a").transact(fl.contract.functions.createTask(dataclasses.replace(config, trainers=one_too_many).to_chain()))
