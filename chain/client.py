"""The one shape of a typed contract client: the chain context, the contract, decoded reverts for views too.

A feature's client subclasses `ContractClient`, names its contract, and exposes typed views (frozen dataclasses)
built from `call(...)` and transactions sent with `send(sender, ...)`. A view that reverts raises the same
`chain.reverts` exception a transaction would (e.g. `UnknownTask`), so callers never see web3's raw errors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from web3.contract import Contract
from web3.exceptions import ContractLogicError

from chain.connect import ChainContext
from chain.sender import Receipt, TxSender


class ContractClient:
    """Reads and writes of one deployed contract (`CONTRACT` names it) for one chain context."""

    CONTRACT: ClassVar[str]

    def __init__(self, ctx: ChainContext) -> None:
        self.ctx = ctx
        self.contract: Contract = ctx.contract(self.CONTRACT)

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

    def now(self) -> int:
        """The latest block's timestamp (the contract's clock)."""
        return int(self.ctx.w3.eth.get_block("latest")["timestamp"])
