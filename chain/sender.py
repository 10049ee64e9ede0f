"""The one transaction sender: local signing, nonces, gas, receipts, decoded reverts.

Every state change fedpm makes goes through `TxSender.transact` (or `deploy`). A sender belongs to one
account; it is safe to share between threads of one process (a lock hands out nonces in order). Reverts,
whether found by gas estimation or by a mined failed receipt, raise the exception named after the contract's
custom error (see `chain.reverts`). Fees follow the chain: legacy `gasPrice` where blocks carry no base fee,
EIP-1559 fields where they do; on a chain that charges gas, an account that cannot pay is refused before sending.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

from chain.errors import TransactionFailed
from chain.reverts import RevertDecoder, revert_data

GAS_HEADROOM = 1.25  # estimates are exact for the state they ran on; later state may need a little more
OUT_OF_GAS_RETRIES = 2


def fee_fields(gas_price: int, base_fee: int | None, tip: Callable[[], int]) -> dict[str, int]:
    """The fee fields of a transaction on a chain whose `eth_gasPrice` is `gas_price` and whose latest block has
    `base_fee` (None: a pre-London chain, legacy transactions). A zero gas price marks a zero-gas consortium chain:
    no tip, and only the base fee when the chain still has one (e.g. Ganache on London). `tip` is asked only when
    a tip is due."""
    if base_fee is None:
        return {"gasPrice": gas_price}
    priority = 0 if gas_price == 0 else tip()
    return {"maxFeePerGas": 2 * base_fee + priority, "maxPriorityFeePerGas": priority}


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    gas_used: int
    logs: list[Any]
    contract_address: str | None
    raw: Any


class TxSender:
    def __init__(self, w3: Web3, account: LocalAccount, decoder: RevertDecoder, *, timeout: float = 60.0, poll: float = 0.05) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.timeout = timeout
        self.poll = poll
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._chain_id: int | None = None

    @property
    def address(self) -> str:
        return self.account.address

    def transact(self, fn: ContractFunction, *, value: int = 0) -> Receipt:
        """Sign and send `contract.functions.f(args)`, wait for its receipt, raise on revert."""
        tx = {"from": self.address, "to": fn.address, "data": fn._encode_transaction_data(), "value": value}
        return self._send(tx)

    def transfer(self, to: str, value: int) -> Receipt:
        """Send `value` wei of the chain's currency to `to` (funding an account on a chain that charges gas)."""
        return self._send({"from": self.address, "to": to, "data": "0x", "value": value})

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any) -> Receipt:
        data = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).data_in_transaction
        return self._send({"from": self.address, "data": data, "value": 0})

    def call_error(self, tx: dict[str, Any], block: int | str = "latest") -> Exception | None:
        """Replay `tx` as eth_call and return the decoded revert, if it reverts."""
        try:
            self.w3.eth.call({k: v for k, v in tx.items() if k in ("from", "to", "data", "value")}, block)
        except ContractLogicError as exc:
            return self.decoder.decode(exc.data)
        return None

    def replay_error(self, tx: dict[str, Any], block_number: int) -> Exception | None:
        """The revert of `tx`, mined and failed in block `block_number`, replayed on the state before that block with
        that block's number and timestamp (a window that closed between estimate and inclusion shows as the error
        the contract raised, not as success). Nodes without eth_call block overrides replay at the block before."""
        block = self.w3.eth.get_block(block_number)
        call = {"from": tx["from"], "data": tx["data"], "value": hex(tx.get("value", 0)), "gas": hex(tx["gas"])}
        if tx.get("to"):
            call["to"] = tx["to"]
        resp = self.w3.provider.make_request("eth_call", [call, hex(block_number - 1), {}, {"number": hex(block_number), "time": hex(block["timestamp"])}])
        error = resp.get("error")
        data = revert_data(error.get("data")) if isinstance(error, dict) else None
        if isinstance(data, str) and len(data) >= 10:
            return self.decoder.decode(data)
        if "result" in resp:
            return None
        return self.call_error(tx, block_number - 1)

    def _fees(self) -> dict[str, int]:
        return fee_fields(self.w3.eth.gas_price, self.w3.eth.get_block("latest").get("baseFeePerGas"), lambda: self.w3.eth.max_priority_fee)

    def _check_funds(self, tx: dict[str, Any]) -> None:
        cost = tx["gas"] * tx.get("maxFeePerGas", tx.get("gasPrice", 0)) + tx.get("value", 0)
        if cost == 0:
            return
        balance = self.w3.eth.get_balance(self.address)
        if balance < cost:
            raise TransactionFailed(f"account {self.address} holds {balance} wei; this transaction may cost up to {cost} wei on this chain",
                                    hint=self._fund_hint())

    def _fund_hint(self) -> str:
        return f"this chain charges gas: fund it with `fedpm account fund {self.address} --amount ETH` (--from a funded account)"

    def _estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.w3.eth.estimate_gas(tx) * GAS_HEADROOM)
        except ContractLogicError as exc:
            raise self.decoder.decode(exc.data) from None

    def _send(self, tx: dict[str, Any]) -> Receipt:
        # Gas depends on state: between estimate and inclusion another transaction can make ours costlier
        # (e.g. an aggregator's vote becomes the one that finalizes a round). A run out of gas is re-estimated
        # against the new state and sent again; if the new state makes the call revert, that revert is raised.
        for attempt in range(OUT_OF_GAS_RETRIES + 1):
            sent = self._sign_and_send(dict(tx))
            rcpt = self._wait(sent)
            if rcpt["status"] == 1:
                return Receipt(tx_hash=rcpt["transactionHash"].to_0x_hex(), block_number=rcpt["blockNumber"], gas_used=rcpt["gasUsed"],
                               logs=list(rcpt["logs"]), contract_address=rcpt.get("contractAddress"), raw=rcpt)
            out_of_gas = rcpt["gasUsed"] >= sent["gas"]
            if not out_of_gas or attempt == OUT_OF_GAS_RETRIES:
                error = self.replay_error(sent, rcpt["blockNumber"])
                raise error or TransactionFailed(f"transaction {rcpt['transactionHash'].to_0x_hex()} failed without revert data",
                                                 hint="it ran out of gas" if out_of_gas else "see the node's trace of it")
        raise AssertionError("unreachable")

    def _sign_and_send(self, tx: dict[str, Any]) -> dict[str, Any]:
        tx["gas"] = self._estimate(tx)
        tx.update(self._fees())
        self._check_funds(tx)
        with self._lock:
            if self._chain_id is None:
                self._chain_id = self.w3.eth.chain_id
            if self._nonce is None:
                self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            tx["nonce"] = self._nonce
            tx["chainId"] = self._chain_id
            signed = self.account.sign_transaction(tx)
            try:
                tx["hash"] = HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
            except Web3RPCError as exc:
                self._nonce = None  # resynchronise from the node next time (another process may share the key)
                error = (exc.rpc_response or {}).get("error")
                reason = error.get("message", exc.message) if isinstance(error, dict) else exc.message
                hint = self._fund_hint() if "insufficient funds" in reason.lower() else "check the account's nonce and balance"
                raise TransactionFailed(f"node rejected transaction: {reason.splitlines()[0]}", hint=hint) from None
            self._nonce += 1
        return tx

    def _wait(self, tx: dict[str, Any]) -> Any:
        try:
            return self.w3.eth.wait_for_transaction_receipt(tx["hash"], timeout=self.timeout, poll_latency=self.poll)
        except TimeExhausted:
            raise TransactionFailed(f"transaction {tx['hash'].to_0x_hex()} not mined within {self.timeout:.0f}s", hint="is the chain producing blocks? raise FEDPM_CHAIN_TX_TIMEOUT_S") from None
