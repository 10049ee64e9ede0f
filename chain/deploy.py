"""The one deploy path: every fedpm contract, in a fixed order, recorded in a deployment file per chain id.

Constructor parameters are filled by name from contracts deployed earlier (`registry` is the
ConsortiumRegistry, `token` the ConsortiumToken), so adding a contract means adding its name to ORDER.
`fedpm deploy`, the demo, the tests and `ape run deploy` all call `deploy_all`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from chain.compile import Artifact
from chain.errors import DeploymentError
from chain.sender import TxSender
from ground.files import atomic_write
from ground.ids import to_bytes32

ORDER = ["ConsortiumRegistry", "SensorBatchRegistry", "MaintenanceLog", "FederatedLearning", "ConsortiumToken", "MachineLease", "PartRegistry"]
PARAM_SOURCES = {"registry": "ConsortiumRegistry", "token": "ConsortiumToken"}
DEFAULT_PROPOSAL_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class GenesisOrg:
    org: str  # the org id, as readable bytes32
    account: str
    roles: int = 0  # GOVERNOR is added by the contract
    name: str = ""  # display name (default: the org id)


@dataclass
class Deployment:
    chain_id: int
    block: int
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {address, abi_hash, block, tx}
    genesis_hash: str | None = None  # block 0's hash: tells apart two chains with the same id (None: an older file)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]["address"]
        except KeyError:
            raise DeploymentError(f"contract {name} is not in this deployment", hint="redeploy with `fedpm deploy`") from None

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> "Deployment":
        try:
            data = json.loads(path.read_text())
            genesis = data.get("genesis_hash")
            return cls(chain_id=int(data["chain_id"]), block=int(data["block"]), contracts=dict(data["contracts"]), genesis_hash=None if genesis is None else str(genesis))
        except FileNotFoundError:
            raise DeploymentError(f"no deployment file at {path}", hint="deploy first with `fedpm deploy`") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(f"deployment file {path} is malformed: {exc}", hint="delete it and redeploy") from None


def deploy_all(w3: Web3, sender: TxSender, artifacts: dict[str, Artifact], governors: list[GenesisOrg], threshold: int, *, ttl: int = DEFAULT_PROPOSAL_TTL) -> Deployment:
    """Deploy ConsortiumRegistry with its founding governors, then every other contract in ORDER."""
    deployment = Deployment(chain_id=w3.eth.chain_id, block=w3.eth.block_number, genesis_hash=genesis_hash(w3))
    for name in ORDER:
        art = artifacts.get(name)
        if art is None:
            continue  # a feature whose contract is not in this build
        args = _registry_args(governors, threshold, ttl) if name == "ConsortiumRegistry" else _resolve_args(art, deployment)
        rcpt = sender.deploy(art.abi, art.bytecode, *args)
        deployment.contracts[name] = {"address": rcpt.contract_address, "abi_hash": art.abi_hash, "block": rcpt.block_number, "tx": rcpt.tx_hash}
    return deployment


def _registry_args(governors: list[GenesisOrg], threshold: int, ttl: int) -> list[Any]:
    return [[to_bytes32(g.org) for g in governors], [g.name or g.org for g in governors], [g.roles for g in governors],
            [Web3.to_checksum_address(g.account) for g in governors], threshold, ttl]


def _resolve_args(art: Artifact, deployment: Deployment) -> list[Any]:
    ctor = next((i for i in art.abi if i["type"] == "constructor"), {"inputs": []})
    args = []
    for param in ctor["inputs"]:
        source = PARAM_SOURCES.get(param["name"].lstrip("_"))
        if source is None:
            raise DeploymentError(f"{art.name}: constructor parameter {param['name']!r} has no source", hint="name it after a deployed contract (registry, token)")
        args.append(deployment.address(source))
    return args


def genesis_hash(w3: Web3) -> str:
    return "0x" + bytes(w3.eth.get_block(0)["hash"]).hex()


def verify_deployment(w3: Web3, deployment: Deployment, artifacts: dict[str, Artifact], path: Path) -> None:
    """Fail early, with the fix, when a deployment file does not describe this chain and these contracts.

    The chain is named by its id and its genesis block: two networks started from different genesis files may share
    an id (every fresh anvil is 1337), and contracts at the same addresses there are not the same deployment."""
    chain_id = w3.eth.chain_id
    genesis = genesis_hash(w3) if deployment.genesis_hash is not None else None
    if deployment.chain_id != chain_id or genesis != deployment.genesis_hash:
        raise DeploymentError(
            f"deployment file {path} is for chain id {deployment.chain_id} with genesis {deployment.genesis_hash or '(not recorded)'}, "
            f"but the node is chain id {chain_id} with genesis {genesis or genesis_hash(w3)}",
            hint="point FEDPM_CHAIN_DEPLOYMENT_FILE (or --rpc-url) at the matching chain, or deploy here")
    for name, info in deployment.contracts.items():
        if not w3.eth.get_code(info["address"]):
            raise DeploymentError(f"{name} has no code at {info['address']} (was the chain reset?)", hint="redeploy with `fedpm deploy`")
        art = artifacts.get(name)
        if art is not None and art.abi_hash != info["abi_hash"]:
            raise DeploymentError(f"{name} changed since it was deployed (ABI hash differs)", hint="redeploy, or check out the deployed version")
