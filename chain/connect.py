"""From settings to a working chain context: a Web3 connection, compiled artifacts, the deployment.

The RPC URL is the configured one (any JSON-RPC node: anvil, Ganache, Besu) or, when none is configured, the
local chain `fedpm chain up` recorded in `<home>/chain.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.middleware import ExtraDataToPOAMiddleware

from chain.compile import Artifact, all_error_abis, compile_contracts
from chain.deploy import Deployment, verify_deployment
from chain.errors import ChainUnreachable
from chain.keystore import Keystore
from chain.reverts import RevertDecoder
from chain.sender import TxSender
from chain.settings import ChainConfig
from ground.errors import ConfigError


def rpc_url(settings: ChainConfig) -> str:
    if settings.chain.rpc_url:
        return settings.chain.rpc_url
    try:
        return json.loads(settings.chain_file.read_text())["url"]
    except FileNotFoundError:
        raise ConfigError("no chain configured", hint="start one with `fedpm chain up` or set FEDPM_CHAIN_RPC_URL") from None
    except (ValueError, KeyError):
        raise ConfigError(f"{settings.chain_file} is malformed", hint="delete it and run `fedpm chain up` again") from None


def web3_at(url: str) -> Web3:
    """A connection to any JSON-RPC chain. Proof-of-authority chains (Besu QBFT, Clique) carry validators and seals
    in a block's extraData, longer than the 32 bytes web3 allows by default, so that check is replaced by the
    middleware that moves the extra bytes aside (a no-op on anvil)."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        w3.eth.chain_id
    except (requests.exceptions.RequestException, OSError, ValueError):
        raise ChainUnreachable(url) from None
    return w3


@dataclass
class ChainContext:
    settings: ChainConfig
    w3: Web3
    artifacts: dict[str, Artifact]
    hints: Mapping[str, str] = field(default_factory=dict)  # the features' revert hints (chain.reverts.GENERIC_HINTS apply anyway)

    @cached_property
    def deployment_path(self) -> Path:
        return self.settings.chain.deployment_file or self.settings.deployments_dir / f"{self.w3.eth.chain_id}.json"

    @cached_property
    def deployment(self) -> Deployment:
        deployment = Deployment.load(self.deployment_path)
        verify_deployment(self.w3, deployment, self.artifacts, self.deployment_path)
        return deployment

    @cached_property
    def decoder(self) -> RevertDecoder:
        return RevertDecoder(all_error_abis(self.artifacts), self.hints)

    @cached_property
    def keystore(self) -> Keystore:
        return Keystore(self.settings.keystore_dir, self.settings.keys)

    def contract(self, name: str) -> Contract:
        return self.w3.eth.contract(address=self.deployment.address(name), abi=self.artifacts[name].abi)

    def sender(self, account: LocalAccount) -> TxSender:
        return TxSender(self.w3, account, self.decoder, timeout=self.settings.chain.tx_timeout_s)

    def sender_for(self, name: str) -> TxSender:
        """The sender of keystore account `name` (decrypts it with the configured password)."""
        return self.sender(self.keystore.load(name))


def connect(settings: ChainConfig, *, url: str | None = None, hints: Mapping[str, str] | None = None) -> ChainContext:
    """`hints`: what to do about the features' contract reverts, by error name (e.g. `fedpm.hints.REVERT_HINTS`)."""
    w3 = web3_at(url or rpc_url(settings))
    return ChainContext(settings=settings, w3=w3, artifacts=compile_contracts(settings.chain.evm_version), hints=dict(hints or {}))


PERM_HINT = "enable the PERM API on the Besu node (--rpc-http-api=...,PERM)"


def rpc_call(url: str, method: str, params: list, *, hint: str = PERM_HINT) -> object:
    """One raw JSON-RPC call (for methods web3 has no binding for, such as Besu's `perm_*`); `hint` says which API
    the node must enable when it refuses."""
    try:
        resp = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30)
        body = resp.json()
    except (requests.exceptions.RequestException, ValueError):
        raise ChainUnreachable(url) from None
    if "error" in body:
        err = body["error"]
        raise ConfigError(f"{method} failed at {url}: {err.get('message', err)}", hint=hint)
    return body["result"]
