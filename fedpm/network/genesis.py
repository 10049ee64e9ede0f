"""Genesis files of the consortium chain (pure, no I/O): Besu QBFT for the compose network, geth Clique for the
multi-signer chain these machines can run.

Both enable London and stop before Shanghai, so contracts are compiled for `paris` (no PUSH0; the `chain`
settings' default evm_version). The QBFT genesis sets `zeroBaseFee` (with Besu's `--min-gas-price=0`, members
need no currency); geth has no zero base fee, so the Clique genesis funds every member account instead.
"""

from __future__ import annotations

from typing import Any, Mapping

from eth_utils import to_checksum_address

from fedpm.network.extradata import QbftExtraData, clique_extra_data, clique_signers, qbft_genesis_extra_data
from ground.errors import FedpmError

# Besu's documented QBFT / IBFT 2.0 genesis mixHash ("Byzantine fault tolerance" in ASCII): marks a BFT block.
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
GAS_LIMIT = 0x1FFFFFFFFFFFFF  # a private chain: the block gas limit Besu's docs use for free-gas networks
CLIQUE_GAS_LIMIT = 30_000_000
EPOCH = 30_000


def _alloc(balances: Mapping[str, int]) -> dict[str, dict[str, str]]:
    return {to_checksum_address(a)[2:].lower(): {"balance": hex(b)} for a, b in sorted(balances.items(), key=lambda kv: kv[0].lower())}


def qbft_genesis(chain_id: int, validators: list[str], balances: Mapping[str, int], *, block_period_s: int = 2, request_timeout_s: int = 4) -> dict[str, Any]:
    """Besu's QBFT genesis with block-header validator selection (validators voted in and out by RPC)."""
    if request_timeout_s <= block_period_s:
        raise FedpmError("QBFT's request timeout must exceed the block period", hint="e.g. --block-period 2 with a 4 s timeout")
    return {
        "config": {
            "chainId": chain_id, "berlinBlock": 0, "londonBlock": 0, "zeroBaseFee": True,
            "qbft": {"blockperiodseconds": block_period_s, "epochlength": EPOCH, "requesttimeoutseconds": request_timeout_s},
        },
        "nonce": "0x0", "timestamp": "0x0", "gasLimit": hex(GAS_LIMIT), "difficulty": "0x1", "mixHash": BFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20, "alloc": _alloc(balances), "extraData": qbft_genesis_extra_data(validators),
    }


def clique_genesis(chain_id: int, signers: list[str], balances: Mapping[str, int], *, period_s: int = 1) -> dict[str, Any]:
    """geth's Clique genesis (geth v1.13.x, the last release line that seals Clique): pre-merge forks up to London."""
    forks = ["homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock", "constantinopleBlock",
             "petersburgBlock", "istanbulBlock", "berlinBlock", "londonBlock"]
    return {
        "config": {"chainId": chain_id, **{f: 0 for f in forks}, "clique": {"period": period_s, "epoch": EPOCH}},
        "nonce": "0x0", "timestamp": "0x0", "gasLimit": hex(CLIQUE_GAS_LIMIT), "difficulty": "0x1",
        "extraData": clique_extra_data(sorted(signers, key=lambda s: bytes.fromhex(s[2:]))), "alloc": _alloc(balances),
    }


def genesis_validators(genesis: Mapping[str, Any]) -> list[str]:
    """The validators (QBFT) or signers (Clique) a genesis starts with, decoded from its extraData."""
    config = genesis.get("config", {})
    raw = bytes.fromhex(str(genesis.get("extraData", "0x"))[2:])
    if "qbft" in config:
        return list(QbftExtraData.decode(raw).validators)
    if "clique" in config:
        return clique_signers(raw)
    raise FedpmError("the genesis names neither QBFT nor Clique", hint="generate it with `fedpm network init`")
