"""Issue 11, attacks 2 and 3 performed with real transactions on anvil: a trainer inflating its sample count to
dictate FedAvg, and one organization holding two aggregator (or trainer) seats of a task."""

from __future__ import annotations

import dataclasses

import pytest
from eth_utils import keccak

from chain.reverts import SameOrganization, TooManySamples
from fedpm.consortium import add_account
from fl_node.modelfile import encode_weights
from fl_node.rounds import DEFAULT_MAX_SAMPLES, RoundState
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

    blobs = {encode_weights(agg, SPEC) for agg, _, _ in results}
    assert len(blobs) == 1  # the same bytes everywhere
    aggregate, included, excluded = results[0]
    assert sorted(included) == sorted([env.addr["factory-1"], env.addr["factory-3"]])
    assert [(t, why) for t, why in excluded] == [(env.addr["factory-2"], "sample count 30 out of range")]
    assert all(float(a.ravel()[0]) == pytest.approx(1.5) for _, a in aggregate)


def test_attack3_one_org_with_two_aggregator_accounts_cannot_hold_a_quorum(env):
    reg = env.consortium.contract("ConsortiumRegistry")
    second = dev_key("agg-1-second")
    add_account(reg, env.consortium.sender("agg-1"), env.consortium.ctx.sender(second))
    env.addr["agg-1-second"] = second.address

    with pytest.raises(SameOrganization):  # the attack: agg-1's two votes would be a 2-of-3 quorum on their own
        env.new_task(aggregators=["agg-1", "agg-1-second", "agg-2"], quorum=2)

    assert env.fl.task_count() == 0 or all(second.address not in env.fl.task(t).aggregators for t in range(env.fl.task_count()))


def test_attack3_one_org_cannot_enrol_two_trainers(env):
    reg = env.consortium.contract("ConsortiumRegistry")
    second = dev_key("factory-1-second")
    add_account(reg, env.consortium.sender("factory-1"), env.consortium.ctx.sender(second))
    env.addr["factory-1-second"] = second.address

    with pytest.raises(SameOrganization):  # the attack: one org's data counted twice (and twice its weight)
        env.new_task(trainers=["factory-1", "factory-1-second", "factory-2"])
