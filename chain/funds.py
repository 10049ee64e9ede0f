"""Funding accounts on a chain that charges gas: the chain's currency, sent from a funded account.

On a zero-gas consortium chain nobody needs funds. Where gas costs something (Ganache or Hardhat on London, a
public testnet), a fresh keystore account must first receive some: from another keystore account (its own
`TxSender`), or on a development node from the first account the node itself holds unlocked (anvil, Ganache,
Hardhat all start with funded ones).
"""

from __future__ import annotations

from web3 import Web3

from chain.sender import TxSender, fee_fields
from chain.errors import TransactionFailed

TRANSFER_GAS = 21_000


def fund_from_node(w3: Web3, to: str, value: int, *, timeout: float = 60.0) -> str:
    """Send `value` wei to `to` from the node's first unlocked account; returns the transaction hash."""
    unlocked = w3.eth.accounts
    if not unlocked:
        raise TransactionFailed("the node holds no unlocked account to fund from", hint="pass --from ACCOUNT, a funded keystore account")
    fees = fee_fields(w3.eth.gas_price, w3.eth.get_block("latest").get("baseFeePerGas"), lambda: w3.eth.max_priority_fee)
    tx_hash = w3.eth.send_transaction({"from": unlocked[0], "to": Web3.to_checksum_address(to), "value": value, "gas": TRANSFER_GAS, **fees})
    rcpt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if rcpt["status"] != 1:
        raise TransactionFailed(f"funding transaction {tx_hash.to_0x_hex()} failed", hint="see the node's log")
    return tx_hash.to_0x_hex()


def fund(w3: Web3, to: str, value: int, source: TxSender | None, *, timeout: float = 60.0) -> str:
    """Fund `to` with `value` wei from `source` (a keystore account's sender) or, without one, from the node."""
    if source is None:
        return fund_from_node(w3, to, value, timeout=timeout)
    return source.transfer(Web3.to_checksum_address(to), value).tx_hash
