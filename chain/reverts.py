"""Contract reverts as Python exceptions named after the Solidity custom error.

`from chain.reverts import NotMember` gives the class raised when a call reverts with `NotMember(address)`.
Only names some compiled contract declares as a custom error (or Error, Panic, UnknownRevert) exist: a typo
raises ImportError instead of silently never matching. Classes are made on first use and cached, so identity
is stable within a process; the ABIs are read (from the compile cache) on the first such import, not at import.
`RevertDecoder` maps a 4-byte selector from revert data to such an exception with the decoded arguments.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

from eth_abi import decode
from eth_utils import is_address, keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from chain.compile import all_error_abis, compile_contracts
from ground.errors import FedpmError
from ground.ids import hex0x, readable_bytes32

# What to do about the reverts every gated contract raises: shown after the message. Each feature owns the hints
# of its own errors (its `REVERT_HINTS`) and hands them to `chain.connect.connect(..., hints=...)`.
GENERIC_HINTS: dict[str, str] = {
    "NotMember": "ask the governors to admit the account's organization (fedpm consortium propose)",
    "MissingRole": "the account's organization lacks that role; governors can grant it (fedpm consortium propose --roles)",
}


class ContractRevert(FedpmError):
    """A transaction or call reverted. `error_name` and `error_args` are the decoded custom error."""

    def __init__(self, error_name: str, error_args: dict[str, Any], *, contract: str | None = None, hint: str | None = None) -> None:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in error_args.items())
        where = f"{contract} reverted with " if contract else "reverted with "
        super().__init__(f"{where}{error_name}({args})", hint=hint)
        self.error_name = error_name
        self.error_args = error_args


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return readable_bytes32(value) or hex0x(value)  # an org or machine id by its name
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)  # as wallets and the explorer show it
    return str(value)


@functools.cache
def revert_class(name: str) -> type[ContractRevert]:
    """The exception class for custom error `name` (one class per name per process)."""
    return type(name, (ContractRevert,), {"__module__": __name__})


BUILTIN_ERRORS = frozenset({"Error", "Panic", "UnknownRevert"})


@functools.cache
def declared_errors() -> frozenset[str]:
    """The names of every custom error the compiled contracts declare, plus the built-in ones."""
    return BUILTIN_ERRORS | {item["name"] for item in all_error_abis(compile_contracts())}


def __getattr__(name: str) -> type[ContractRevert]:
    if name[:1].isupper() and name in declared_errors():
        return revert_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}: no compiled contract declares a custom error {name}")


def _signature(item: dict[str, Any]) -> str:
    return item["name"] + "(" + ",".join(collapse_if_tuple(i) for i in item["inputs"]) + ")"


def revert_data(value: Any) -> bytes | str | None:
    """The revert bytes in a node's error data: a hex string (anvil, geth, Besu), or nested in an object
    (Ganache: {"result": "0x…", "message": "revert", …}; some nodes: {"data": "0x…"})."""
    while isinstance(value, dict):
        value = value.get("result", value.get("data"))
    return value


class RevertDecoder:
    """Decodes revert data using every custom error of the deployed contracts (plus Error and Panic); `hints` maps
    error names to what the user can do about them (GENERIC_HINTS, then the features' own)."""

    def __init__(self, error_abis: list[dict[str, Any]], hints: Mapping[str, str] | None = None) -> None:
        self._hints = {**GENERIC_HINTS, **(hints or {})}
        base = [
            {"name": "Error", "inputs": [{"name": "message", "type": "string"}]},
            {"name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
        ]
        self._by_selector = {keccak(text=_signature(item))[:4]: item for item in base + error_abis}

    def decode(self, data: bytes | str | dict | None, *, contract: str | None = None) -> ContractRevert:
        data = revert_data(data)
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else (data or b"")
        item = self._by_selector.get(raw[:4])
        if item is None:
            return revert_class("UnknownRevert")("UnknownRevert", {"data": raw}, contract=contract)
        values = decode([collapse_if_tuple(i) for i in item["inputs"]], raw[4:])
        names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
        return revert_class(item["name"])(item["name"], dict(zip(names, values)), contract=contract, hint=self._hints.get(item["name"]))
