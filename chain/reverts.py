"""Contract reverts as Python exceptions named after the Solidity custom error.

`from chain.reverts import NotMember` gives the class raised when a call reverts with `NotMember(address)`.
Only names some compiled contract declares as a custom error (or Error, Panic, UnknownRevert) exist: a typo
raises ImportError instead of silently never matching. Classes are made on first use and cached, so identity
is stable within a process; the ABIs are read (from the compile cache) on the first such import, not at import.
`RevertDecoder` maps a 4-byte selector from revert data to such an exception with the decoded arguments.

Messages speak the user's language: `format_revert` writes ids that are readable bytes32 as their names and addresses
checksummed; what an argument means beyond its ABI type (a role bitmask, a token amount, an enum) is the feature's
knowledge, so each feature keeps `REVERT_FORMATS` (error -> argument -> formatter) beside its `REVERT_HINTS`, and the
faces hand both to `chain.connect.connect(..., hints=..., formats=...)`.
"""

from __future__ import annotations

import enum
import functools
from typing import Any, Callable, Mapping

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

# How users read an error's arguments: error name -> argument name -> formatter (e.g. a role bitmask as role names).
ArgFormats = Mapping[str, Mapping[str, Callable[[Any], str]]]


def format_arg(value: Any) -> str:
    """An argument by its ABI value: a readable bytes32 id by its name, an address checksummed, else as is."""
    if isinstance(value, bytes):
        return readable_bytes32(value) or hex0x(value)  # an org or machine id by its name
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)  # as wallets and the explorer show it
    return str(value)


def format_revert(error_name: str, error_args: Mapping[str, Any], formats: Mapping[str, Callable[[Any], str]] | None = None) -> str:
    """`Name(arg=value, ...)`, each value through its formatter in `formats` (by argument name) or `format_arg`."""
    formats = formats or {}
    return f"{error_name}(" + ", ".join(f"{k}={formats.get(k, format_arg)(v)}" for k, v in error_args.items()) + ")"


def format_enum(mirror: type[enum.IntEnum]) -> Callable[[Any], str]:
    """A formatter showing a Solidity enum argument by its mirror's name (`solidity_name` where it has one); a value
    the mirror lacks stays a number."""

    def fmt(value: Any) -> str:
        if value not in mirror._value2member_map_:
            return str(value)
        member = mirror(value)
        return getattr(member, "solidity_name", member.name)

    return fmt


class ContractRevert(FedpmError):
    """A transaction or call reverted. `error_name` and `error_args` are the decoded custom error (raw ABI values);
    the message shows them as `format_revert` does with `formats` (argument name -> formatter)."""

    def __init__(self, error_name: str, error_args: dict[str, Any], *, contract: str | None = None, hint: str | None = None,
                 formats: Mapping[str, Callable[[Any], str]] | None = None) -> None:
        where = f"{contract} reverted with " if contract else "reverted with "
        super().__init__(where + format_revert(error_name, error_args, formats), hint=hint)
        self.error_name = error_name
        self.error_args = error_args


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
    error names to what the user can do about them (GENERIC_HINTS, then the features' own), `formats` to how their
    arguments read (`ArgFormats`)."""

    def __init__(self, error_abis: list[dict[str, Any]], hints: Mapping[str, str] | None = None, formats: ArgFormats | None = None) -> None:
        self._hints = {**GENERIC_HINTS, **(hints or {})}
        self._formats = dict(formats or {})
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
        return revert_class(item["name"])(item["name"], dict(zip(names, values)), contract=contract, hint=self._hints.get(item["name"]),
                                          formats=self._formats.get(item["name"]))
