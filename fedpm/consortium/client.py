"""The ConsortiumRegistry as Python sees it: roles and proposal kinds (mirrors of the Solidity ones), typed views
of organizations, proposals, machines and devices, and the governance and fleet transactions.

One place decodes the registry's tuples, so the CLI, the explorer, the demo and the tests never index into them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Sequence

from chain.client import ContractClient
from chain.sender import Receipt, TxSender
from ground.errors import FedpmError
from ground.ids import from_bytes32, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "AlreadyApproved": "each governor organization approves a proposal once",
    "ProposalExpired": "propose again: proposals expire",
    "NotEnoughApprovals": "more governors must approve first (fedpm consortium approve)",
    "UnknownMachine": "register the machine first (fedpm machine register)",
    "DeviceNotActive": "the device was revoked or never bound: register an active device for this machine (fedpm device register)",
    "UnknownDevice": "register the device for its machine first (fedpm device register)",
    "DeviceOfAnotherMachine": "sign with the device key bound to this machine (fedpm device register binds a new one)",
    "AccountReserved": "an open AddOrg proposal names this account; wait until it is executed or expires",
    "NoAccountOffer": "a member of the organization must offer the account first (addAccount), then the account accepts",
    "TooManyAccounts": "the organization holds the maximum number of accounts; remove one first",
    "TooManyNodes": "the organization declares the maximum number of nodes; remove one first",
    "TextTooLong": "shorten the name or enode URL",
}

ZERO_HASH = b"\0" * 32


class Role(enum.IntFlag):
    """Mirrors contracts/libraries/Roles.sol (tests/test_enum_mirrors.py checks they agree)."""

    GOVERNOR = 1 << 0
    OPERATOR = 1 << 1
    MANUFACTURER = 1 << 2
    AGGREGATOR = 1 << 3
    TRAINER = 1 << 4

    @classmethod
    def parse(cls, text: str) -> "Role":
        value = cls(0)
        for part in filter(None, (p.strip().upper() for p in text.split(","))):
            if part not in cls.__members__:
                raise FedpmError(f"unknown role {part!r}", hint=f"use {', '.join(cls.__members__)}")
            value |= cls[part]
        return value

    def label(self) -> str:
        return ",".join(r.name for r in Role if r in self) or "-"


class ProposalKind(enum.IntEnum):
    """Mirrors IConsortiumRegistry.ProposalKind (tests/test_enum_mirrors.py checks they agree)."""

    ADD_ORG = 0
    REMOVE_ORG = 1
    SET_ROLES = 2
    SET_THRESHOLD = 3
    MINT = 4

    @property
    def solidity_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


@dataclass(frozen=True)
class OrgView:
    """A member organization (the registry's `org(orgId)`); `active` is false once it was removed."""

    org_id: str
    name: str
    roles: Role
    active: bool
    accounts: tuple[str, ...]
    enodes: tuple[str, ...]


@dataclass(frozen=True)
class ProposalView:
    """A governance proposal and the governor organizations that approved it so far."""

    proposal_id: int
    kind: ProposalKind
    org_id: str  # AddOrg, RemoveOrg, SetRoles: the organization concerned
    name: str
    roles: Role
    account: str  # AddOrg: the first account; Mint: the receiver
    threshold: int  # SetThreshold: the new k
    proposer: str
    expires_at: int
    executed: bool
    token: str  # Mint: the ConsortiumToken
    amount: int  # Mint: base units
    approvers: tuple[str, ...]  # governor org ids


@dataclass(frozen=True)
class MachineView:
    machine_id: str
    operator_org: str
    manufacturer_org: str
    metadata_hash: bytes


@dataclass(frozen=True)
class DeviceView:
    """A device key's binding: the machine it signs for, and whether the binding still counts."""

    device: str
    machine_id: str
    active: bool


@dataclass(frozen=True)
class RegistryLimits:
    """The registry's bounds that keep RemoveOrg's gas bounded (its MAX_* constants)."""

    max_accounts: int
    max_nodes: int
    max_name_bytes: int
    max_enode_bytes: int


def format_members(members: Iterable[OrgView]) -> str:
    rows = [("ORG", "NAME", "ROLES", "ACCOUNTS")] + [(m.org_id, m.name, m.roles.label(), " ".join(m.accounts)) for m in members]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows)


class ConsortiumRegistry(ContractClient):
    """Reads and writes of the ConsortiumRegistry contract for one chain context."""

    CONTRACT = "ConsortiumRegistry"

    # ---------------------------------------------------------------- organizations

    def org(self, org_id: str) -> OrgView:
        return self._org(to_bytes32(org_id))

    def members(self, *, include_removed: bool = False) -> list[OrgView]:
        """The member table in admission order: active organizations (and removed ones when asked)."""
        orgs = [self._org(raw) for raw in self.call("orgIds")]
        return [o for o in orgs if o.active or include_removed]

    def _org(self, raw_id: bytes) -> OrgView:
        name, roles, active, accounts, enodes = self.call("org", raw_id)
        return OrgView(from_bytes32(raw_id), name, Role(roles), active, tuple(accounts), tuple(enodes))

    def org_of(self, account: str) -> str:
        """The org id of a member account; `NotMember` otherwise."""
        return from_bytes32(self.call("orgOf", account))

    def is_member(self, account: str) -> bool:
        return bool(self.call("isMember", account))

    def has_role(self, account: str, role: Role) -> bool:
        return bool(self.call("hasRole", account, int(role)))

    def account_offered(self, account: str, org_id: str) -> bool:
        """Whether `org_id` has offered `account` a place that the account has not accepted yet."""
        return bool(self.call("accountOffered", account, to_bytes32(org_id)))

    def governor_count(self) -> int:
        return int(self.call("governorCount"))

    def limits(self) -> RegistryLimits:
        return RegistryLimits(*(int(self.call(name)) for name in ("MAX_ACCOUNTS", "MAX_NODES", "MAX_NAME_BYTES", "MAX_ENODE_BYTES")))

    # ---------------------------------------------------------------- governance: reads

    def threshold(self) -> int:
        return int(self.call("threshold"))

    def proposal_count(self) -> int:
        return int(self.call("proposalCount"))

    def proposal(self, proposal_id: int) -> ProposalView:
        """Proposal `proposal_id` (`UnknownProposal` if there is none)."""
        p, approvers = self.call("proposal", proposal_id)
        kind, org_id, name, roles, account, threshold, proposer, expires_at, executed, token, amount = p
        return ProposalView(proposal_id, ProposalKind(kind), from_bytes32(org_id), name, Role(roles), account, threshold, proposer, expires_at,
                            executed, token, amount, tuple(from_bytes32(a) for a in approvers))

    def proposals(self) -> list[ProposalView]:
        return [self.proposal(pid) for pid in range(self.proposal_count())]

    # ---------------------------------------------------------------- governance: transactions

    def _propose(self, sender: TxSender, fn: str, *args: object) -> int:
        """Send a `propose*` call (the proposer's org approves at once); returns the new proposal's id."""
        (log,) = self.receipt_logs("ProposalCreated", self.send(sender, fn, *args))
        return int(log["args"]["proposalId"])

    def propose_add_org(self, sender: TxSender, org_id: str, name: str, roles: Role, account: str) -> int:
        return self._propose(sender, "proposeAddOrg", to_bytes32(org_id), name, int(roles), account)

    def propose_remove_org(self, sender: TxSender, org_id: str) -> int:
        return self._propose(sender, "proposeRemoveOrg", to_bytes32(org_id))

    def propose_set_roles(self, sender: TxSender, org_id: str, roles: Role) -> int:
        return self._propose(sender, "proposeSetRoles", to_bytes32(org_id), int(roles))

    def propose_set_threshold(self, sender: TxSender, threshold: int) -> int:
        return self._propose(sender, "proposeSetThreshold", threshold)

    def propose_mint(self, sender: TxSender, token: str, to: str, amount: int) -> int:
        """Propose minting `amount` of the ConsortiumToken at `token` to `to` (supply changes only this way)."""
        return self._propose(sender, "proposeMint", token, to, amount)

    def approve(self, sender: TxSender, proposal_id: int) -> Receipt:
        return self.send(sender, "approve", proposal_id)

    def execute(self, sender: TxSender, proposal_id: int) -> Receipt:
        return self.send(sender, "execute", proposal_id)

    def enact(self, proposal_id: int, approvers: Sequence[TxSender], executor: TxSender) -> Receipt:
        """Gather `approvers`' approvals of an open proposal and execute it; returns the execution's receipt."""
        for sender in approvers:
            self.approve(sender, proposal_id)
        return self.execute(executor, proposal_id)

    def admit(self, proposer: TxSender, approvers: Sequence[TxSender], org_id: str, name: str, roles: Role, account: str) -> int:
        """Propose, gather approvals and execute the admission of one org; returns the proposal id."""
        pid = self.propose_add_org(proposer, org_id, name, roles, account)
        self.enact(pid, approvers, proposer)
        return pid

    def mint(self, proposer: TxSender, approvers: Sequence[TxSender], token: str, to: str, amount: int) -> Receipt:
        """Mint `amount` of `token` to `to` the only way supply changes: a Mint proposal approved k-of-n and executed."""
        return self.enact(self.propose_mint(proposer, token, to, amount), approvers, proposer)

    # ---------------------------------------------------------------- accounts and nodes of one's own org

    def add_account(self, sender: TxSender, account: str) -> Receipt:
        """Offer `account` a place in the sender's org (the account accepts with `accept_account`)."""
        return self.send(sender, "addAccount", account)

    def accept_account(self, sender: TxSender, org_id: str) -> Receipt:
        """The sender's key accepts `org_id`'s offer."""
        return self.send(sender, "acceptAccount", to_bytes32(org_id))

    def enroll(self, member: TxSender, new: TxSender) -> None:
        """Add `new`'s account to `member`'s org: the member offers it, then the new key accepts (signs for itself)."""
        org_id = self.org_of(member.address)
        self.add_account(member, new.address)
        self.accept_account(new, org_id)

    def remove_account(self, sender: TxSender, account: str) -> Receipt:
        return self.send(sender, "removeAccount", account)

    def add_node(self, sender: TxSender, enode: str) -> Receipt:
        return self.send(sender, "addNode", enode)

    # ---------------------------------------------------------------- machines and devices

    def machine(self, machine_id: str) -> MachineView | None:
        """The registered machine `machine_id`, or None."""
        return self._machine(to_bytes32(machine_id))

    def machines(self) -> list[MachineView]:
        """Every registered machine, in registration order."""
        return [m for m in (self._machine(raw) for raw in self.call("machineIds")) if m is not None]

    def _machine(self, raw_id: bytes) -> MachineView | None:
        operator, maker, metadata, registered = self.call("machine", raw_id)
        return MachineView(from_bytes32(raw_id), from_bytes32(operator), from_bytes32(maker), bytes(metadata)) if registered else None

    def device(self, device: str) -> DeviceView | None:
        """The binding of device key `device` (active or revoked), or None if it was never bound."""
        machine_id, active = self.call("deviceMachine", device)
        return DeviceView(device, from_bytes32(machine_id), bool(active)) if machine_id != ZERO_HASH else None

    def require_active_device(self, machine_id: str, device: str) -> None:
        """Nothing if `device` is `machine_id`'s active key; else UnknownDevice, DeviceOfAnotherMachine or DeviceNotActive."""
        self.call("requireActiveDevice", to_bytes32(machine_id), device)

    def register_machine(self, sender: TxSender, machine_id: str, manufacturer_org: str, metadata_hash: bytes = ZERO_HASH) -> Receipt:
        """Register `machine_id` as operated by the sender's org (an OPERATOR)."""
        return self.send(sender, "registerMachine", to_bytes32(machine_id), to_bytes32(manufacturer_org), metadata_hash)

    def register_device(self, sender: TxSender, device: str, machine_id: str) -> Receipt:
        return self.send(sender, "registerDevice", device, to_bytes32(machine_id))

    def revoke_device(self, sender: TxSender, device: str) -> Receipt:
        return self.send(sender, "revokeDevice", device)
