"""fedpm on a 4-signer Clique network (geth v1.13.15, `make engines`): the closest real multi-validator chain these
machines run (Besu QBFT, the production target, runs in docker-compose.yml). Signer keys, member accounts and their
keystores come from `fedpm network init`, as in the compose network; each signer's node key is its sealing key,
so the enode a member declares names its validator.

- fedpm deploys the consortium and runs a federated round (trainer and aggregator processes, each talking to its
  member's node) while one signer is stopped; the stopped signer rejoins and syncs to the same round.
- a fifth member is admitted by governance, declares its node, and `fedpm network validators --sync` mirrors that to
  `clique_propose` on the nodes: the new signer seals blocks; removed by governance, it is voted out again.
- a node pointed at a chain whose genesis differs from its deployment file refuses to start, naming both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

import tests.test_fl_processes as flp
from chain.connect import ChainContext, connect
from chain.funds import fund
from chain.keystore import Keystore
from chain.node import LocalChain
from fedpm.consortium.bootstrap import Consortium, OrgPlan, bootstrap
from fedpm.consortium.client import ConsortiumRegistry, Role
from fedpm.network.genesis import clique_genesis
from fedpm.network.identity import derive_key
from fedpm.network.layout import init_network, load_plan
from fl_node.coordinator import processes_alive, publish_task, wait_round
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tests.conftest import TEST_PASSWORD, make_settings
from tests.engines import GethSigner, wait_until
from tests.parts import needs, require
from tests.test_network_static import FAST_KEYS

pytestmark = [needs("geth"), pytest.mark.slow]

CHAIN_ID = 4243
SEED = bytes([0x17] * 32)
ROLES = {"member-1": Role.TRAINER, "member-2": Role.TRAINER, "member-3": Role.AGGREGATOR, "member-4": Role.AGGREGATOR}


@dataclass
class CliqueNet:
    root: Path
    home: Path
    nodes: dict[str, GethSigner]
    ctx: ChainContext
    consortium: Consortium

    def env(self, member: str, node: str | None = None) -> dict[str, str]:
        """A member's fedpm process environment, talking to its own node (or `node`)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}
        return {**env, "FEDPM_HOME": str(self.home), "FEDPM_CHAIN_RPC_URL": self.nodes[node or member].url, "FEDPM_KEYS_PASSWORD": TEST_PASSWORD,
                "FEDPM_CHAIN_DEPLOYMENT_FILE": str(self.ctx.deployment_path), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def signers(self, node: str = "member-1") -> set[str]:
        return {Web3.to_checksum_address(a) for a in self.nodes[node].rpc("clique_getSigners", [])}

    def sealer(self, node: str, number: int) -> str:
        return Web3.to_checksum_address(self.nodes[node].rpc("clique_getSigner", [hex(number)]))


def fedpm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedpm.cli", *args], env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def clique(tmp_path_factory) -> CliqueNet:
    geth = require("geth")
    root = tmp_path_factory.mktemp("clique")
    plan = init_network(root / "network", 4, FAST_KEYS, seed=SEED)
    home = root / "home"
    (home / "keystores").mkdir(parents=True)
    for m in plan.members:  # one home holding every member's keystore, as the test plays all members
        shutil.copy(root / "network" / "members" / m.name / "keystores" / f"{m.name}.json", home / "keystores")
    genesis = clique_genesis(CHAIN_ID, [m.validator for m in plan.members], {m.account: 10**24 for m in plan.members}, period_s=1)
    keys = {m.name: bytes.fromhex((root / "network" / "members" / m.name / "besu" / "key").read_text()[2:]) for m in plan.members}
    keys["member-5"] = derive_key(SEED, "member-5/chain")  # joins later
    nodes = {name: GethSigner(geth, root / name, key, CHAIN_ID).init(genesis) for name, key in keys.items()}
    started: list[GethSigner] = []
    try:
        for name in ("member-1", "member-2", "member-3", "member-4"):
            started.append(nodes[name].start(started))
        wait_until(lambda: nodes["member-4"].w3().eth.block_number >= 2, 60, "the signers to seal")
        ctx = connect(make_settings(home, nodes["member-1"].url))
        keystore = Keystore(home / "keystores", ctx.settings.keys)
        accounts = {m.name: keystore.load(m.name) for m in plan.members}
        t0 = time.monotonic()
        consortium = bootstrap(ctx, [OrgPlan(n, n.title(), Role.GOVERNOR | r) for n, r in ROLES.items()], accounts, threshold=3)
        for name in ROLES:  # every member declares its validator node
            consortium.registry.add_node(consortium.sender(name), nodes[name].enode)
        print(f"clique: deployed and declared nodes in {time.monotonic() - t0:.1f} s")
        yield CliqueNet(root, home, nodes, ctx, consortium)
    finally:
        for node in nodes.values():
            node.stop()


def test_fedpm_runs_a_round_while_a_signer_is_stopped_and_the_signer_rejoins(clique: CliqueNet, tmp_path: Path) -> None:
    c, fl = clique.consortium, FederatedLearning(clique.ctx)
    data = {o: flp.write_cmapss(tmp_path / f"{o}.txt", {i * 10 + k: 60 + 7 * k for k in range(4)}, seed=i) for i, o in enumerate(("member-1", "member-2"), 1)}
    spec = flp.task_spec(data)
    from tasks import model as M

    task_id = publish_task(fl, c.sender("member-1"), LocalStore(clique.home / "store"), spec, M.get_weights(M.build_model(spec, seed=0)),
                           rounds=1, min_participants=2, quorum=2, trainers=[c.accounts["member-1"].address, c.accounts["member-2"].address],
                           aggregators=[c.accounts["member-3"].address, c.accounts["member-4"].address])
    node_of = {"member-1": "member-1", "member-2": "member-2", "member-3": "member-3", "member-4": "member-3"}  # member-4 reads through member-3's node while its own validator is down
    procs = {}
    for member, node in node_of.items():
        kind = ["train", "--data", str(data[member])] if member in data else ["aggregate"]
        cmd = [sys.executable, "-m", "fedpm.cli", "node", kind[0], "--as", member, "--task", str(task_id), "--poll", "0.5", *kind[1:]]
        procs[member] = subprocess.Popen(cmd, env=clique.env(member, node), stdout=open(tmp_path / f"{member}.log", "wb"), stderr=subprocess.STDOUT)
    try:
        r = fl.open_round(c.sender("member-1"), task_id)
        clique.nodes["member-4"].stop()  # one of four signers down for the whole round
        down_at = clique.nodes["member-1"].w3().eth.block_number
        view = wait_round(fl, task_id, r, timeout=300, check=processes_alive(procs))
        for p in procs.values():
            p.wait(timeout=60)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    logs = {m: (tmp_path / f"{m}.log").read_text() for m in procs}
    assert view.state == RoundState.FINALIZED, logs
    assert {m: p.returncode for m, p in procs.items()} == {m: 0 for m in procs}, logs
    # the chain went on without member-4's signer: the blocks of the round were sealed by the other three
    head = clique.nodes["member-1"].w3().eth.block_number
    assert head - down_at >= 5
    sealers = {clique.sealer("member-1", n) for n in range(down_at + 1, head + 1)}
    assert clique.nodes["member-4"].address not in sealers and len(sealers) == 3
    # the stopped signer rejoins, syncs the blocks it missed and sees the finalized round
    clique.nodes["member-4"].start([clique.nodes[m] for m in ("member-1", "member-2", "member-3")])
    wait_until(lambda: clique.nodes["member-4"].w3().eth.block_number >= head, 60, "member-4 to catch up")
    rejoined = connect(make_settings(clique.home, clique.nodes["member-4"].url))
    assert FederatedLearning(rejoined).round(task_id, r).result_hash == view.result_hash
    wait_until(lambda: clique.sealer("member-1", clique.nodes["member-1"].w3().eth.block_number) == clique.nodes["member-4"].address, 60, "member-4 to seal again")


def test_a_signer_is_added_and_removed_through_governance_mirrored_to_clique_propose(clique: CliqueNet) -> None:
    c, nodes = clique.consortium, clique.nodes
    registry = ConsortiumRegistry(clique.ctx)
    governors = [c.sender(m) for m in ("member-1", "member-2", "member-3")]
    new_key = derive_key(SEED, "member-5/account")
    Keystore(clique.home / "keystores", clique.ctx.settings.keys).create("member-5", private_key=new_key)
    newcomer = Account.from_key(new_key)
    fund(clique.ctx.w3, newcomer.address, 10**21, governors[0])
    fifth = nodes["member-5"]
    fifth.start([nodes[m] for m in ("member-1", "member-2", "member-3", "member-4")])  # syncs as a non-signer first
    everyone = [nodes[f"member-{i}"].url for i in range(1, 5)]
    sync_args = ["network", "validators", "--engine", "clique", *[a for url in everyone for a in ("--sync", url)]]

    # Governance admits member-5 as a governor; it declares its node; the members mirror that to their signers
    registry.admit(governors[0], governors[1:], "member-5", "Member 5", Role.GOVERNOR, newcomer.address)
    declared = fedpm(clique.env("member-1"), "network", "node", "--as", "member-5", fifth.enode)
    assert declared.returncode == 0 and f"declared node {fifth.address}" in declared.stdout, declared.stderr
    refused = fedpm(clique.env("member-1"), "network", "node", "--as", "member-5", "enode://not-a-node@host:1")
    assert refused.returncode != 0 and "is not an enode URL" in refused.stderr and refused.stderr.strip().count("\n") == 0
    listed = fedpm(clique.env("member-1"), "network", "validators", "--json")
    assert listed.returncode == 0, listed.stderr
    assert fifth.address in json.loads(listed.stdout) and len(json.loads(listed.stdout)) == 5
    assert fifth.address not in clique.signers()
    out = fedpm(clique.env("member-1"), *sync_args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(f"votes add {fifth.address}") == 4, out.stdout
    wait_until(lambda: fifth.address in clique.signers(), 90, "the signers to vote member-5 in")
    wait_until(lambda: clique.sealer("member-1", nodes["member-1"].w3().eth.block_number) == fifth.address, 90, "member-5 to seal a block")
    again = fedpm(clique.env("member-1"), *sync_args)  # nothing left to vote; the applied votes are withdrawn
    assert again.returncode == 0 and "votes none needed; withdrew 1" in again.stdout, again.stdout + again.stderr
    assert nodes["member-2"].rpc("clique_proposals", []) == {}

    # Governance removes member-5 (its declared nodes go with it): voted out the same way, the chain goes on
    registry.enact(registry.propose_remove_org(governors[0], "member-5"), governors[1:], governors[0])
    out = fedpm(clique.env("member-1"), *sync_args)
    assert out.returncode == 0 and out.stdout.count(f"votes remove {fifth.address}") == 4, out.stdout + out.stderr
    wait_until(lambda: fifth.address not in clique.signers(), 90, "the signers to vote member-5 out")
    assert clique.signers() == {nodes[f"member-{i}"].address for i in range(1, 5)}
    height = nodes["member-1"].w3().eth.block_number
    wait_until(lambda: nodes["member-2"].w3().eth.block_number >= height + 3, 30, "blocks after the removal")


def test_a_node_pointed_at_another_chain_with_the_same_id_refuses_to_start_naming_both(clique: CliqueNet, tmp_path: Path) -> None:
    deployment = json.loads(clique.ctx.deployment_path.read_text())
    with LocalChain(chain_id=CHAIN_ID) as impostor:  # same chain id, another genesis
        env = {**clique.env("member-3"), "FEDPM_CHAIN_RPC_URL": impostor.url}
        out = fedpm(env, "node", "aggregate", "--as", "member-3", "--task", "0", "--once")
        impostor_genesis = "0x" + bytes(impostor_w3(impostor.url).eth.get_block(0)["hash"]).hex()
    assert out.returncode != 0 and out.stderr.strip().count("\n") == 0, out.stderr
    assert deployment["genesis_hash"] in out.stderr and impostor_genesis in out.stderr and f"chain id {CHAIN_ID}" in out.stderr


def impostor_w3(url: str) -> Web3:
    return Web3(Web3.HTTPProvider(url))
