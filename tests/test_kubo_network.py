"""The kubo store backend against real kubo daemons (`make engines`) in a private swarm on loopback.

The daemons are configured exactly as the compose network's kubo containers: `ipfs init`, the swarm key, then the
member's init script written by `fedpm network init` (identity, no public bootstrap, no mDNS, peering with the other
members), with loopback addresses instead of the compose host names. Then: add / cat / has / pin through KuboStore
with CIDs equal to the embedded store's; fetches across the swarm; and an aggregator that still gets every update
after the nodes that pinned them stopped, because it pinned each one into its own node as the commits came in.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from eth_utils import keccak

from fl_node.coordinator import publish_task
from fl_node.errors import ObjectNotFound
from fl_node.nodes import AggregatorNode, TrainerNode
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.spec import TaskSpec
from fl_node.storage.base import fetch_verified
from fl_node.storage.cid import CHUNK_SIZE, cid_of
from fl_node.storage.kubo import KuboStore
from fl_node.storage.local import LocalStore
from fl_node.trainer import FitConfig, FitResult
from fedpm.network.layout import init_network
from tests.conftest import advance_time
from tests.engines import KuboNode, wait_until
from tests.parts import needs, require
from tests.test_network_static import FAST_KEYS

pytestmark = needs("kubo")

SEED = bytes([0x42] * 32)
WINDOW = 3600  # commit window of the replication test's round
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 12345]


@pytest.fixture(scope="module")
def swarm(tmp_path_factory) -> Iterator[dict[str, KuboNode]]:
    """Four kubo daemons, members 1-4 of a `fedpm network init` network, peered over loopback."""
    binary = require("kubo")
    root = tmp_path_factory.mktemp("kubo")
    plan = init_network(root / "network", 4, FAST_KEYS, seed=SEED)
    nodes = {m.name: KuboNode(binary, root / m.name) for m in plan.members}
    peer_ids = {m.name: m.peer_id for m in plan.members}
    for name, node in nodes.items():
        peers = [{"ID": peer_ids[o], "Addrs": [f"/ip4/127.0.0.1/tcp/{other.swarm_port}"]} for o, other in nodes.items() if o != name]
        node.init(root / "network" / "ipfs" / "swarm.key", root / "network" / "members" / name / "ipfs" / "init.sh", json.dumps(peers))
    try:
        for node in nodes.values():
            node.start()
        # Peering reconnects with a growing backoff, and a busy machine starts the later daemons after the first
        # attempts: connect whoever is missing (at the addresses Peering holds) until every member sees the others
        def peered() -> bool:
            complete = True
            for name, node in nodes.items():
                have = {p["Peer"] for p in node.rpc("swarm/peers").get("Peers") or []}
                for other, peer in nodes.items():
                    if other != name and peer_ids[other] not in have:
                        complete = False
                        node.rpc("swarm/connect", arg=f"/ip4/127.0.0.1/tcp/{peer.swarm_port}/p2p/{peer_ids[other]}")
            return complete

        wait_until(peered, 180, "the members to peer", every=1.0)
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


def test_the_daemons_run_the_identities_and_private_swarm_network_init_wrote(swarm: dict[str, KuboNode], tmp_path: Path) -> None:
    plan = json.loads((next(iter(swarm.values())).folder.parent / "network" / "network.json").read_text())
    expected = {m["name"]: m["peer_id"] for m in plan["members"]}
    assert {name: node.rpc("id")["ID"] for name, node in swarm.items()} == expected  # kubo derives the same peer ids
    node = swarm["member-1"]
    config = json.loads((node.folder / "repo" / "config").read_text())
    assert config["Bootstrap"] == [] and config["Discovery"]["MDNS"]["Enabled"] is False
    assert {p["Peer"] for p in node.rpc("swarm/peers")["Peers"]} == {expected[f"member-{i}"] for i in (2, 3, 4)}
    # a node without the swarm key cannot join: LIBP2P_FORCE_PNET makes kubo refuse to start at all
    outsider = KuboNode(node.binary, tmp_path / "outsider")
    outsider.folder.mkdir()
    outsider.ipfs("init", "--empty-repo", "--profile", "test")

    refused = subprocess.run([node.binary, "daemon"], env=outsider.env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "private network" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr


def test_add_cat_has_pin_give_the_embedded_stores_cids(swarm: dict[str, KuboNode], tmp_path: Path) -> None:
    store, local = KuboStore(swarm["member-1"].api, timeout_s=10), LocalStore(tmp_path / "local")
    rng = np.random.default_rng(7)
    for size in SIZES:
        data = rng.bytes(size)
        cid = store.add(data)
        assert cid == local.add(data) == cid_of(data), size
        assert store.cat(cid) == data and store.has(cid)
        store.pin(cid)
        assert cid in swarm["member-1"].rpc("pin/ls", arg=cid, type="recursive")["Keys"]


def test_the_node_import_config_cannot_change_a_cid(swarm: dict[str, KuboNode]) -> None:
    node = swarm["member-2"]
    node.ipfs("config", "--json", "Import.CidVersion", "1")  # takes effect for requests after the change
    try:
        data = b"import settings must not matter" * 5000
        assert KuboStore(node.api).add(data) == cid_of(data)  # fedpm passes kubo's defaults explicitly
    finally:
        node.ipfs("config", "--json", "Import.CidVersion", "null")


def test_objects_travel_across_the_private_swarm_and_missing_ones_are_object_not_found(swarm: dict[str, KuboNode]) -> None:
    data = np.random.default_rng(8).bytes(2 * CHUNK_SIZE + 99)
    cid = KuboStore(swarm["member-1"].api).add(data)
    other = KuboStore(swarm["member-3"].api, timeout_s=20)
    assert not other.has(cid)  # offline look-up: not fetched yet
    assert fetch_verified(other, cid, keccak(data), retries=2, backoff=0.5) == data
    other.pin(cid)
    assert other.has(cid)
    with pytest.raises(ObjectNotFound):
        KuboStore(swarm["member-4"].api, timeout_s=2).cat(cid_of(b"nobody in the swarm has this"))


class ShiftTrainer:
    """A trainer without ML: the base weights plus a constant (enough to make distinct, checkable updates)."""

    def __init__(self, shift: float) -> None:
        self.shift = np.float32(shift)

    def fit(self, parameters, config: FitConfig) -> FitResult:
        return FitResult([(n, a + self.shift) for n, a in parameters], 10, {"loss": float(self.shift)})


def test_an_aggregator_gets_every_update_after_the_nodes_that_pinned_them_stopped(swarm: dict[str, KuboNode], consortium, snapshot, tmp_path: Path) -> None:
    # Prepare: three trainers, each on its own kubo node, two of them needed; one aggregator on a fourth node
    stores = {m: KuboStore(swarm[m].api, timeout_s=10) for m in swarm}
    fl = FederatedLearning(consortium.ctx)
    trainers = {"factory-1": "member-1", "factory-2": "member-2", "factory-3": "member-4"}
    spec = TaskSpec.from_dict({"task": "kubo-replication", "train": {"epochs": 1, "batch_size": 32}, "aggregation": {"rule": "fedavg", "params": {}}})
    # a window far longer than the test: the nodes close it by their own clock once it is past (the session's anvil
    # clock may lag the wall clock after other tests' snapshot reverts), and the test closes it by advancing the chain
    task_id = publish_task(fl, consortium.sender("gov-a"), stores["member-3"], spec, [("w", np.zeros(4, np.float32))], rounds=1,
                           min_participants=2, commit_window=WINDOW, trainers=[consortium.accounts[t].address for t in trainers],
                           aggregators=[consortium.accounts["agg-1"].address])
    tnodes = {t: TrainerNode(fl, consortium.sender(t), stores[m], task_id, tmp_path / t, log=lambda _: None, trainer_for=lambda _s, k=k: ShiftTrainer(k), seed=k)
              for k, (t, m) in enumerate(trainers.items(), 1)}
    aggregator = AggregatorNode(fl, consortium.sender("agg-1"), stores["member-3"], task_id, tmp_path / "agg-1", log=lambda _: None, retries=1)
    r = fl.open_round(consortium.sender("gov-a"), task_id)

    lines: list[str | None] = []

    def replicates() -> bool:  # one poll of the aggregator; a pin slowed by a busy machine is retried at the next
        lines.append(aggregator.step())
        return lines[-1] is not None

    # Execute: two trainers commit; the aggregator, polling during the commit window, pins each update as it lands
    for trainer in ("factory-1", "factory-2"):
        assert tnodes[trainer].step().startswith(f"round {r}: committed update")
        wait_until(replicates, 90, f"the aggregator to pin {trainer}'s update", every=0.5)
        assert lines[-1] == f"round {r}: pinned 1 committed update(s) into our store"
    cids = [fl.update(task_id, r, consortium.accounts[t].address).cid for t in ("factory-1", "factory-2")]
    unreplicated = stores["member-1"].add(b"an object only member-1 ever held")
    swarm["member-1"].stop()  # the nodes that pinned the updates go away before the window closes
    swarm["member-2"].stop()
    try:
        with pytest.raises(ObjectNotFound):  # what nobody replicated is gone with its node
            stores["member-4"].cat(unreplicated)
        assert all(stores["member-4"].cat(c) for c in cids)  # the updates are not: the aggregator's node serves them
        advance_time(consortium.ctx, WINDOW + 1)  # factory-3 never commits: the window runs out with 2 of 3
        closed = aggregator.step()
        voted = aggregator.step()
        view = fl.round(task_id, r)
    finally:
        swarm["member-1"].start()
        swarm["member-2"].start()
    # Assert: the aggregate covers both updates, fetched from the aggregator's own node
    assert "commit window expired with 2 update(s); round now aggregating" in (closed or ""), closed
    assert view.state == RoundState.FINALIZED and "over 2 update(s)" in (voted or ""), voted
    assert sorted(fl.round(task_id, r).committed) == sorted(consortium.accounts[t].address for t in ("factory-1", "factory-2"))
