"""On-chain histories for the explorer's pages: sensor batches, leases, federated learning (imported by tests/test_explorer_*.py;
no tests here).

FL rounds are driven like tests/test_fl_contract.py: small named arrays committed directly, real AggregatorNode.step().
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from eth_utils import keccak

from fedpm.lease.tariff import UNIT_SCALE
from fedpm.sensors.client import SensorBatchRegistry
from fl_node.coordinator import publish_task
from fl_node.modelfile import encode_weights
from fl_node.nodes import AggregatorNode
from fl_node.rounds import FederatedLearning
from fl_node.spec import TaskSpec
from fl_node.storage.local import LocalStore
from tests.conftest import advance_time
from tests.sensor_helpers import readings_t0, sign_blocks, store_anchored
from tests.test_lease_helpers import UNIT, Leasing

SPEC = TaskSpec.from_dict({"task": "explorer-test", "train": {"epochs": 1, "batch_size": 32}, "aggregation": {"rule": "fedavg", "params": {}}})
TRAINERS = ["factory-1", "factory-2", "factory-3"]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]
HOUR = UNIT_SCALE


def model(value: float) -> list[tuple[str, np.ndarray]]:
    return [("00.w", np.full((3, 2), value, np.float32)), ("01.b", np.full((2,), value, np.float32))]


def record_sensor_batches(consortium: Any, plan: dict[str, int], home: Path, relayer: str = "factory-1") -> list[dict[str, Any]]:
    """The gateway store of `home` with, for each machine of `plan` (machine -> number of batches), batches of
    device-signed vibration blocks (batch k: blocks 3k..3k+2 of the machine's device, 4 readings each), all anchored
    under one root of roots relayed by `relayer`. Returns per batch its summary and the anchor, in batch order."""
    from fedpm.sensors.store import GatewayStore, gateway_store_path

    registry = SensorBatchRegistry(consortium.ctx)
    dom = registry.signing_domain()
    t0 = readings_t0(consortium)
    batches = [sign_blocks(consortium.devices[m], m, dom, range(3 * k, 3 * k + 3), t0=t0) for m, count in plan.items() for k in range(count)]
    store = GatewayStore(gateway_store_path(home), create=True)
    try:
        aid = store_anchored(store, registry, consortium.sender(relayer), batches)
        anchor = store.anchor(aid).anchor
        return [{"summary": b.summary, "anchor": anchor} for b in store.anchor_batches(aid)]
    finally:
        store.close()


def record_fl_history(consortium: Any, workdir: Path) -> dict[str, Any]:
    """One task, two rounds. Round 1: three updates (factory-2's bytes do not match its hash, so it is excluded), a
    byzantine agg-3 votes first, agg-1 and agg-2 finalize over it (agg-3 dissents). Round 2: one update only, the
    commit window expires, the round fails. Returns the task id, addresses and every receipt."""
    fl = FederatedLearning(consortium.ctx)
    store = LocalStore(workdir / "store")
    addr = {o: consortium.accounts[o].address for o in TRAINERS + AGGREGATORS + ["gov-a"]}
    gov = consortium.sender("gov-a")
    task_id = publish_task(fl, gov, store, SPEC, model(0.0), trainers=[addr[t] for t in TRAINERS], aggregators=[addr[a] for a in AGGREGATORS],
                           rounds=2, min_participants=2, commit_window=120, aggregation_window=600)

    def aggregate(org: str, byzantine: bool = False) -> str | None:
        node = AggregatorNode(fl, consortium.sender(org), store, task_id, workdir / org, log=lambda _: None, retries=1, byzantine=byzantine)
        return node.step()

    commits: dict[tuple[int, str], Any] = {}
    r1 = fl.open_round(gov, task_id)
    for org, value, n, loss in (("factory-1", 1.0, 10, 0.9), ("factory-3", 3.0, 30, 0.7)):
        blob = encode_weights(model(value), SPEC.to_json())
        commits[(r1, org)] = fl.commit(consortium.sender(org), task_id, r1, keccak(blob), store.add(blob), n, loss)
    good, other = encode_weights(model(9.0), SPEC.to_json()), encode_weights(model(7.0), SPEC.to_json())
    commits[(r1, "factory-2")] = fl.commit(consortium.sender("factory-2"), task_id, r1, keccak(good), store.add(other), 20, 0.8)
    aggregate("agg-3", byzantine=True)
    aggregate("agg-1")
    aggregate("agg-2")

    r2 = fl.open_round(gov, task_id)
    blob = encode_weights(model(2.0), SPEC.to_json())
    commits[(r2, "factory-1")] = fl.commit(consortium.sender("factory-1"), task_id, r2, keccak(blob), store.add(blob), 10, 0.4)
    advance_time(consortium.ctx, 121)
    aggregate("agg-1")  # closes the expired window on chain: too few updates, the round fails
    return {"task_id": task_id, "rounds": (r1, r2), "addr": addr, "commits": commits, "fl": fl}


def record_leases(consortium: Any) -> dict[str, Any]:
    """Lease 1 on factory-1-m1: accepted, one usage report, closed and refunded. Lease 2 on factory-2-m1: active with usage.
    Lease 3 on factory-3-m1: offered only. Returns lease ids by machine and the receipts of lease 2."""
    leasing = Leasing(consortium)
    closed = leasing.open(deposit=20 * UNIT)
    leasing.report(closed, 2 * HOUR)
    leasing.lease.close(consortium.sender("factory-1"), closed, leasing.sign(closed, 3 * HOUR))
    advance_time(consortium.ctx, leasing.lease.dispute_window())
    leasing.lease.claim_refund(consortium.sender("factory-1"), closed)

    m2 = "factory-2-m1"
    active, offer_rcpt = leasing.lease.offer(consortium.sender("maker"), m2, _tariff(leasing, "t-hour-2"))
    leasing.fund("factory-2", 30 * UNIT)
    accept_rcpt = leasing.lease.accept(consortium.sender("factory-2"), active, 30 * UNIT, leasing.sign(active, 0, machine=m2))
    usage_rcpt = leasing.report(active, 5 * HOUR, machine=m2)

    offered, _ = leasing.lease.offer(consortium.sender("maker"), "factory-3-m1", _tariff(leasing, "t-hour-3"))
    return {"closed": closed, "active": active, "offered": offered, "receipts": [offer_rcpt, accept_rcpt, usage_rcpt], "leasing": leasing}


def _tariff(leasing: Leasing, tariff_id: str) -> Any:
    from tests.test_lease_helpers import make_tariff

    return make_tariff(leasing.ctx, tariff_id=tariff_id)


def record_device_history(consortium: Any, machine: str = "factory-3-m1") -> dict[str, Any]:
    """The machine's keys: the maker rotates its bootstrap key to a second one; the operator leases the machine; the
    maker asks to revoke the second key and the lessee approves; the maker asks to bind a third key, which waits for
    the lessee. Returns the keys and the receipts of each step."""
    from tests.conftest import dev_key

    reg, maker, lessee = consortium.registry, consortium.sender("maker"), consortium.sender(machine.rsplit("-m", 1)[0])
    first, second, third = consortium.devices[machine], dev_key(f"{machine}-key-2"), dev_key(f"{machine}-key-3")
    advance_time(consortium.ctx, 5)
    rotated = reg.rotate_device(maker, machine, second.address)
    leasing = Leasing(consortium)
    lease_id, _ = leasing.lease.offer(maker, machine, _tariff(leasing, "t-keys"))
    leasing.fund(machine.rsplit("-m", 1)[0], 20 * UNIT)
    leasing.lease.accept(lessee, lease_id, 20 * UNIT, leasing.sign(lease_id, 0, device=second, machine=machine))
    revoke = reg.revoke_device(maker, second.address)
    approved = reg.approve_device_change(lessee, machine, revoke.pending.change_hash)
    waiting = reg.register_device(maker, third.address, machine)
    return {"machine": machine, "keys": [first.address, second.address, third.address], "rotated": rotated.receipt, "revoke": revoke,
            "approved": approved, "waiting": waiting.pending, "lease": lease_id}
