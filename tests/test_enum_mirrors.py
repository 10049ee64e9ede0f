"""Python mirrors of Solidity enums and constants agree with the compiled contracts: a Solidity member reordered,
renamed, added or removed, or a role bit moved, fails here (on chain the enum is only its uint8, so a silent drift
would mislabel every status).

Members are read from the sources the compiler compiled (`chain.compile.read_sources`, comments stripped), and each
enum must appear as such in a compiled ABI (`internalType` "enum <Container>.<Name>"), so a mirror cannot point at
an enum that no deployed interface uses. Python members are UPPER_SNAKE for Solidity's CamelCase.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Iterator

import pytest

from chain.compile import compile_contracts, read_sources
from fedpm.consortium.client import ProposalKind, Role
from fedpm.consortium.devices import DeviceChangeKind
from fedpm.lease.tariff import UNIT_SCALE, LeaseStatus, Unit
from fedpm.maintenance.records import Kind
from fl_node.rounds import RoundState

MIRRORS = [
    (RoundState, "IFederatedLearning.RoundState"),
    (Kind, "IMaintenanceLog.Kind"),
    (Unit, "IMachineLease.Unit"),
    (LeaseStatus, "IMachineLease.Status"),
    (ProposalKind, "IConsortiumRegistry.ProposalKind"),
    (DeviceChangeKind, "IConsortiumRegistry.DeviceChangeKind"),
]


def _code() -> dict[str, str]:
    return {path: re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S) for path, text in read_sources().items()}


def solidity_enums() -> dict[str, list[tuple[str, ...]]]:
    """`Container.Name` -> the member lists of every enum declared under that name (one, unless declared twice)."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for text in _code().values():
        containers = [(m.start(), m.group(1)) for m in re.finditer(r"\b(?:interface|contract|library)\s+(\w+)", text)]
        for m in re.finditer(r"\benum\s+(\w+)\s*\{([^}]*)\}", text):
            container = [name for start, name in containers if start < m.start()][-1]
            members = tuple(part.strip() for part in m.group(2).split(",") if part.strip())
            found.setdefault(f"{container}.{m.group(1)}", []).append(members)
    return found


def solidity_constants(container: str) -> dict[str, int]:
    """The integer constants of one library or contract, evaluated (`1 << 3`, `(1 << 5) - 1`, `1000`)."""
    (text,) = [t for t in _code().values() if re.search(rf"\b(?:library|contract|interface)\s+{container}\b", t)]
    out = {}
    for name, expr in re.findall(r"\buint\d*\s+(?:internal|public|private)?\s*constant\s+(\w+)\s*=\s*([^;]+);", text):
        if re.fullmatch(r"[\d\s()<>*+-]+", expr):
            out[name] = int(eval(expr, {"__builtins__": {}}))  # digits and operators only (checked above)
    return out


def _abi_types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "internalType" in node:
            yield node["internalType"]
        for value in node.values():
            yield from _abi_types(value)
    elif isinstance(node, list):
        for item in node:
            yield from _abi_types(item)


def _normalized(name: str) -> str:
    return name.replace("_", "").upper()


@pytest.fixture(scope="module")
def enums() -> dict[str, list[tuple[str, ...]]]:
    return solidity_enums()


@pytest.fixture(scope="module")
def abi_types() -> set[str]:
    return {t for art in compile_contracts().values() for t in _abi_types(art.abi)}


@pytest.mark.parametrize(("mirror", "qualified"), MIRRORS, ids=[q for _, q in MIRRORS])
def test_python_enum_mirrors_the_solidity_enum_member_by_member(mirror: type[enum.IntEnum], qualified: str, enums, abi_types):
    assert f"enum {qualified}" in abi_types  # a compiled interface uses it
    (members,) = enums[qualified]  # declared once

    assert [(m.value, _normalized(m.name)) for m in mirror] == [(i, _normalized(name)) for i, name in enumerate(members)]
    assert all(issubclass(mirror, enum.IntEnum) and isinstance(m, int) for m in mirror)


@pytest.mark.parametrize("mirror", [LeaseStatus, ProposalKind])
def test_names_shown_to_users_are_the_solidity_names(mirror, enums):
    qualified = next(q for m, q in MIRRORS if m is mirror)

    assert tuple(m.solidity_name for m in mirror) == enums[qualified][0]


def test_role_flags_mirror_the_roles_library():
    roles = solidity_constants("Roles")
    everything = roles.pop("ALL")

    assert {r.name: r.value for r in Role} == roles
    assert int(Role(everything)) == everything == int(Role.GOVERNOR | Role.OPERATOR | Role.MANUFACTURER | Role.AGGREGATOR | Role.TRAINER)


def test_unit_scale_mirrors_the_leases_library():
    assert solidity_constants("Leases")["UNIT_SCALE"] == UNIT_SCALE


def test_every_solidity_enum_has_a_python_mirror(enums):
    assert sorted(enums) == sorted(q for _, q in MIRRORS)
