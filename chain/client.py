"""The one shape of a typed contract client: the chain context, the contract, decoded reverts for views too.

A feature's client subclasses `ContractClient`, is named after its contract (`CONTRACT`), and exposes typed views
(frozen dataclasses named `<Thing>View`) built from `call(...)`, transactions sent with `send(sender, ...)`, and
decoded events through `logs(...)` / `receipt_logs(...)`. A view that reverts raises the same `chain.reverts`
exception a transaction would (e.g. `UnknownTask`), so callers never see web3's raw errors or tuples.
"""

from __future__ import annotations

from typing import Any, ClassVar

from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from chain.connect import ChainContext
from chain.events import events
from chain.sender import Receipt, TxSender


class ContractClient:
    """Reads and writes of one deployed contract (`CONTRACT` names it) for one chain context.

    `address` points the client at another instance of the same contract (e.g. one a test deployed itself);
    by default it is the deployment's."""

    CONTRACT: ClassVar[str]

    def __init__(self, ctx: ChainContext, address: str | None = None) -> None:
        self.ctx = ctx
        if address is None:
            self.contract: Contract = ctx.contract(self.CONTRACT)
            self.from_block = int(ctx.deployment.contracts[self.CONTRACT].get("block", 0))  # no events before it
        else:
            self.contract = ctx.w3.eth.contract(address=address, abi=ctx.artifacts[self.CONTRACT].abi)
            self.from_block = 0

    @property
    def address(self) -> str:
        return self.contract.address

    def call(self, fn: str, *args: Any) -> Any:
        """The result of view `fn(*args)`; a revert raises the exception named after the contract's custom error."""
        try:
            return self.contract.functions[fn](*args).call()
        except ContractLogicError as exc:
            raise self.ctx.decoder.decode(exc.data, contract=self.CONTRACT) from None

    def send(self, sender: TxSender, fn: str, *args: Any, value: int = 0) -> Receipt:
        """Sign and send `fn(*args)` from `sender`; a revert raises as for `call`."""
        return sender.transact(self.contract.functions[fn](*args), value=value)

    def logs(self, event: str, *, from_block: int | None = None, **filters: Any) -> list[Any]:
        """Decoded `event` logs in chain order (since the deployment unless `from_block`), filtered by indexed
        arguments, paged by the `chain.log_chunk_blocks` setting."""
        return events(getattr(self.contract.events, event), from_block=self.from_block if from_block is None else from_block,
                      argument_filters=filters or None, chunk=self.ctx.settings.chain.log_chunk_blocks)

    def receipt_logs(self, event: str, receipt: Receipt) -> list[Any]:
        """The `event` logs this contract emitted in `receipt` (other contracts' logs are skipped)."""
        logs = getattr(self.contract.events, event)().process_receipt(receipt.raw, errors=DISCARD)
        return [log for log in logs if log["address"] == self.address]

    def now(self) -> int:
        """The latest block's timestamp (the contract's clock)."""
        return int(self.ctx.w3.eth.get_block("latest")["timestamp"])
