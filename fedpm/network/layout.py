"""`fedpm network init`: everything a consortium's compose network reads, written into one folder.

    network/
      .env                      what docker-compose.yml interpolates (docker compose --env-file network/.env ...)
      network.json              the public description: chain id, members, their accounts, validators, enodes, peers
      genesis.json              Besu QBFT genesis (validators in extraData), London + zeroBaseFee, no Shanghai
      static-nodes.json         every validator's enode (Besu, --static-nodes-file)
      ipfs/swarm.key            the private swarm's pre-shared key
      members/<m>/besu/key      the member's validator node key (0600; Besu reads it as a file)
      members/<m>/besu/permissions_config.toml  Besu local allowlists: member accounts and validator enodes
      members/<m>/ipfs/init.sh  the member's kubo identity and private-swarm settings (0600; kubo's container-init.d)
      members/<m>/keystores/    the member's account, an encrypted V3 keystore
      members/<m>/fedpm.toml    the member's fedpm settings: its own Besu node, kubo node and the broker
      members/<m>/data/         the member's own training data (train.txt), never shared

Deterministic for a given seed (tests use a fixed one); without a seed a random one is drawn and not kept.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_account import Account

from chain.keystore import Keystore
from chain.settings import KeySettings
from fedpm.consortium.besu import render_besu_allowlist
from fedpm.consortium.client import OrgView, Role
from fedpm.network.genesis import qbft_genesis
from fedpm.network.identity import ChainNode, KuboIdentity, derive_key, swarm_key
from ground.errors import FedpmError
from ground.files import atomic_write

MIN_MEMBERS = 4  # QBFT tolerates f faults with 3f + 1 validators: 4 is the least that survives one
DEFAULT_CHAIN_ID = 2018
P2P_PORT = 30303
RPC_PORT = 8545
SWARM_PORT = 4001
IPFS_API_PORT = 5001
MEMBER_BALANCE_WEI = 10**24  # zero gas on Besu; kept so the same accounts work on a chain that charges gas

# What docker-compose.yml interpolates besides the members (images pinned; override in .env).
IMAGES = {
    "BESU_IMAGE": "hyperledger/besu:24.12.2",
    "KUBO_IMAGE": "ipfs/kubo:v0.43.1",
    "MOSQUITTO_IMAGE": "eclipse-mosquitto:2.0.20",
    "PROMETHEUS_IMAGE": "prom/prometheus:v2.53.3",
    "ALERTMANAGER_IMAGE": "prom/alertmanager:v0.27.0",
    "GRAFANA_IMAGE": "grafana/grafana:11.3.1",
    "FEDPM_IMAGE": "fedpm:local",
}


class NetworkInitError(FedpmError):
    """`fedpm network init` cannot write this network."""


@dataclass(frozen=True)
class MemberPlan:
    name: str  # member-1 ... : the org id, keystore account and compose service suffix
    account: str  # the member's signing account
    validator: str  # its validator (node key) address
    enode: str  # enode URL with the compose host name
    peer_id: str  # its kubo peer id

    @property
    def besu_host(self) -> str:
        return f"besu-{self.name}"

    @property
    def ipfs_host(self) -> str:
        return f"ipfs-{self.name}"


@dataclass(frozen=True)
class NetworkPlan:
    chain_id: int
    block_period_s: int
    members: tuple[MemberPlan, ...]

    def to_json(self) -> str:
        return json.dumps({"chain_id": self.chain_id, "block_period_s": self.block_period_s, "consensus": "qbft",
                           "members": [asdict(m) for m in self.members]}, indent=2, sort_keys=True) + "\n"


def founding_members(plan: NetworkPlan) -> list[OrgView]:
    """The members as the registry will hold them once deployed (each a governor with its validator's enode): the
    allowlists init writes are the ones `fedpm consortium besu-allowlist` renders from the chain later."""
    return [OrgView(m.name, m.name, Role.GOVERNOR, True, (m.account,), (m.enode,)) for m in plan.members]


def check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NetworkInitError(f"{out} is not an empty directory", hint="choose a new --out folder; init never overwrites a network's keys")


def check_members(members: int) -> None:
    if members < MIN_MEMBERS:
        raise NetworkInitError(f"--members {members}: QBFT needs at least {MIN_MEMBERS} validators to tolerate one faulty member", hint=f"use --members {MIN_MEMBERS} or more")


def init_network(out: Path, members: int, keys: KeySettings, *, seed: bytes | None = None, chain_id: int = DEFAULT_CHAIN_ID, block_period_s: int = 2) -> NetworkPlan:
    """Write the network folder `out` (which must not exist or be empty); returns what it describes.

    Everything is written into a staging folder beside `out` and renamed into place at the end, so a failure
    (a keystore password missing, a full disk) leaves no half-written network behind."""
    check_members(members)
    check_target(out)
    seed = seed if seed is not None else secrets.token_bytes(32)
    names = [f"member-{i}" for i in range(1, members + 1)]
    chain_keys = {n: ChainNode(derive_key(seed, f"{n}/chain")) for n in names}
    kubo_keys = {n: KuboIdentity(derive_key(seed, f"{n}/ipfs")) for n in names}
    account_keys = {n: derive_key(seed, f"{n}/account") for n in names}
    plan = NetworkPlan(chain_id, block_period_s, tuple(
        MemberPlan(n, Account.from_key(account_keys[n]).address, chain_keys[n].address, chain_keys[n].enode(f"besu-{n}", P2P_PORT), kubo_keys[n].peer_id)
        for n in names))
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        genesis = qbft_genesis(chain_id, [m.validator for m in plan.members], {m.account: MEMBER_BALANCE_WEI for m in plan.members}, block_period_s=block_period_s)
        atomic_write(stage / "genesis.json", json.dumps(genesis, indent=2) + "\n")
        atomic_write(stage / "network.json", plan.to_json())
        atomic_write(stage / "static-nodes.json", json.dumps([m.enode for m in plan.members], indent=2) + "\n")
        allowlists = render_besu_allowlist(founding_members(plan))
        atomic_write(stage / "ipfs" / "swarm.key", swarm_key(derive_key(seed, "swarm")), mode=0o600)
        for m in plan.members:
            home = stage / "members" / m.name
            atomic_write(home / "besu" / "key", "0x" + chain_keys[m.name].private_key.hex(), mode=0o600)
            atomic_write(home / "besu" / "permissions_config.toml", allowlists)  # each node's own: perm_* RPC rewrites it
            atomic_write(home / "ipfs" / "init.sh", kubo_init_script(m, kubo_keys[m.name], plan.members), mode=0o600)
            atomic_write(home / "fedpm.toml", member_settings(m))
            Keystore(home / "keystores", keys).create(m.name, private_key=account_keys[m.name])
            (home / "data").mkdir()  # the member's own training data (train.txt), mounted read-only at /data
        atomic_write(stage / ".env", render_env(plan, out))
        os.chmod(stage, 0o755)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return plan


def member_settings(m: MemberPlan) -> str:
    return (f"# fedpm settings of {m.name} inside the compose network (FEDPM_CONFIG points here)\n"
            f"[chain]\nrpc_url = \"http://{m.besu_host}:{RPC_PORT}\"\ndeployment_file = \"/network/deployment.json\"\n\n"
            f"[storage]\nbackend = \"kubo\"\nipfs_api = \"http://{m.ipfs_host}:{IPFS_API_PORT}\"\n\n"
            f"[mqtt]\nhost = \"mosquitto\"\n")


def kubo_init_script(m: MemberPlan, identity: KuboIdentity, everyone: tuple[MemberPlan, ...]) -> str:
    """Run by the kubo image after `ipfs init` (from /container-init.d): this member's identity, the private swarm
    (no public bootstrap, no mDNS, no AutoConf, DHT among members only) and permanent peering with the others.
    IPFS_SWARM_ADDR / IPFS_API_ADDR / IPFS_PEERS override the compose defaults (tests run it on loopback)."""
    peers = [{"ID": p.peer_id, "Addrs": [f"/dns4/{p.ipfs_host}/tcp/{SWARM_PORT}"]} for p in everyone if p.name != m.name]
    return f"""#!/bin/sh
# fedpm network init: kubo settings of {m.name} (peer {m.peer_id}). Keep private: it holds the node's key.
set -eu
: "${{IPFS_PATH:=/data/ipfs}}"
ipfs config --json Bootstrap '[]'
ipfs config --json AutoConf.Enabled false
ipfs config --json Discovery.MDNS.Enabled false
ipfs config Routing.Type dhtserver
ipfs config --json Routing.DelegatedRouters '[]'
ipfs config --json Ipns.DelegatedPublishers '[]'
ipfs config --json DNS.Resolvers '{{}}'
ipfs config --json Swarm.Transports.Network.Websocket false
ipfs config --json Swarm.Transports.Network.WebTransport false
ipfs config --json Swarm.Transports.Network.WebRTCDirect false
ipfs config --json Swarm.Transports.Network.QUIC false
ipfs config --json Swarm.RelayClient.Enabled false
ipfs config --json Swarm.RelayService.Enabled false
ipfs config --json AutoTLS.Enabled false
ipfs config --json Addresses.Swarm "[\\"${{IPFS_SWARM_ADDR:-/ip4/0.0.0.0/tcp/{SWARM_PORT}}}\\"]"
ipfs config Addresses.API "${{IPFS_API_ADDR:-/ip4/0.0.0.0/tcp/{IPFS_API_PORT}}}"
ipfs config --json Addresses.Gateway '[]'
peers='{json.dumps(peers, separators=(',', ':'))}'
ipfs config --json Peering.Peers "${{IPFS_PEERS:-$peers}}"
# kubo refuses to set Identity.PrivKey through `ipfs config`, so the identity is written into the config file
sed -i -e 's|"PeerID": "[^"]*"|"PeerID": "{m.peer_id}"|' -e 's|"PrivKey": "[^"]*"|"PrivKey": "{identity.config_private_key}"|' "$IPFS_PATH/config"
"""


def render_env(plan: NetworkPlan, out: Path) -> str:
    """The compose variables; paths as given to init (relative ones resolve from docker-compose.yml's folder)."""
    where = out.as_posix() if out.is_absolute() else "./" + out.as_posix().removeprefix("./")
    lines = [f"# written by `fedpm network init`; docker compose --env-file {where}/.env up -d (see docs/deploy.md)",
             "COMPOSE_PROJECT_NAME=fedpm", f"FEDPM_NETWORK_DIR={where}", f"FEDPM_CHAIN_ID={plan.chain_id}",
             f"FEDPM_MEMBERS={len(plan.members)}", "FEDPM_TASK=0", f"FEDPM_PASSWORD_FILE={where}/password",
             f"GRAFANA_ADMIN_PASSWORD_FILE={where}/grafana-admin-password"]
    lines += [f"{k}={v}" for k, v in IMAGES.items()]
    return "\n".join(lines) + "\n"


def load_plan(network_dir: Path) -> NetworkPlan:
    """Read `network.json` back (what `network validators` and the tests use)."""
    try:
        data = json.loads((network_dir / "network.json").read_text())
        return NetworkPlan(int(data["chain_id"]), int(data["block_period_s"]), tuple(MemberPlan(**m) for m in data["members"]))
    except FileNotFoundError:
        raise NetworkInitError(f"no network.json in {network_dir}", hint="run `fedpm network init --out DIR` first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise NetworkInitError(f"{network_dir / 'network.json'} is malformed: {exc}", hint="regenerate the network") from None
