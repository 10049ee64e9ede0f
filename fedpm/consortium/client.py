"""The ConsortiumRegistry as Python sees it: roles and proposal kinds (mirrors of the Solidity ones), typed views
of organizations, proposals, machines and device keys (`fedpm.consortium.devices`), and the governance, fleet and
device-key transactions.

One place decodes the registry's tuples, so the CLI, the explorer, the demo and the tests never index into them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Sequence

from chain.client import ContractClient
from chain.sender import Receipt, TxSender
from fedpm.consortium.attestation import AttestationCheck, DeviceAttestation, judge, recover_signer
from fedpm.consortium.devices import (DEVICE_EVENTS, DeviceChangeView, DeviceEvent, DeviceLockView, DeviceView, change_view, device_event,
                                      device_view)
from ground.errors import FedpmError
from ground.ids import from_bytes32, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "AlreadyApproved": "each governor organization approves a proposal once",
    "ProposalExpired": "propose again: proposals expire",
    "NotEnoughApprovals": "more governors must approve first (fedpm consortium approve)",
    "UnknownMachine": "register the machine first (fedpm machine register)",
    "NotManufacturer": "only the machine's manufacturer org binds, rotates or revokes its device keys and offers it for lease: act --as one of its accounts",
    "DeviceNotActive": "the device key was revoked: the manufacturer binds a new one (fedpm device register)",
    "UnknownDevice": "the key is not bound (or already revoked): the manufacturer binds it first (fedpm device register; fedpm device list)",
    "DeviceOfAnotherMachine": "sign with the device key bound to this machine (fedpm device list --machine ...)",
    "DeviceNotValidAt": "the key does not sign for that reading time (rotated out, or valid only later): sign with the key valid then (fedpm device show)",
    "DeviceExists": "a device key is bound once, ever: provision a new key for the device",
    "MachineHasDevice": "the machine already has a device key: rotate it (fedpm device rotate) or revoke it first (fedpm device revoke)",
    "NoCurrentDevice": "the machine has no usable device key to rotate: bind one (fedpm device register)",
    "InvalidRotationTime": "rotate at a time not in the past and after the current key's start (fedpm device rotate --at)",
    "NoPendingChange": "no such device change is waiting: see the waiting change with `fedpm device list --machine ...` and approve its hash",
    "NotMachineLessee": "only the lessee org of the lease that locks the machine approves a device change (fedpm device approve --as <lessee account>)",
    "NotLeaseContract": "the governors must trust this lease contract first (fedpm consortium propose --lease-contract, approve, execute)",
    "MachineLocked": "another open lease locks the machine's device keys: close it first (fedpm lease close)",
    "RotationScheduled": "the manufacturer announced a key rotation that has not taken effect: accept after it (fedpm device list)",
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
    ADD_LEASE_CONTRACT = 5

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
    account: str  # AddOrg: the first account; Mint: the receiver; AddLeaseContract: the lease contract
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
class DeviceChangeOutcome:
    """What a bind, rotation or revocation did: applied at once (`pending` None), or waiting for the lessee's
    approval because a lease locks the machine."""

    receipt: Receipt
    pending: DeviceChangeView | None


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

    def account_orgs(self) -> dict[str, str]:
        """Every member account (checksummed) -> its org id, to name the accounts a page or table shows."""
        return {account: o.org_id for o in self.members() for account in o.accounts}

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

    def propose_add_lease_contract(self, sender: TxSender, lease: str) -> int:
        """Propose trusting the MachineLease at `lease` to lock machines' device keys during its leases."""
        return self._propose(sender, "proposeAddLeaseContract", lease)

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

    def remove_node(self, sender: TxSender, enode: str) -> Receipt:
        return self.send(sender, "removeNode", enode)

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

    def register_machine(self, sender: TxSender, machine_id: str, manufacturer_org: str, metadata_hash: bytes = ZERO_HASH) -> Receipt:
        """Register `machine_id` as operated by the sender's org (an OPERATOR)."""
        return self.send(sender, "registerMachine", to_bytes32(machine_id), to_bytes32(manufacturer_org), metadata_hash)

    # ---------------------------------------------------------------- device keys: reads

    def device(self, device: str) -> DeviceView | None:
        """The binding of device key `device` (active, scheduled, retired or revoked), or None if it was never bound."""
        return device_view(device, self.call("deviceKey", device), self.now())

    def device_keys(self, machine_id: str) -> list[DeviceView]:
        """Every key ever bound to `machine_id`, in binding order (the last one is the current key)."""
        now = self.now()
        return [device_view(d, self.call("deviceKey", d), now) for d in self.call("deviceKeys", to_bytes32(machine_id))]

    def pending_device_change(self, machine_id: str) -> DeviceChangeView | None:
        """The change of the machine's keys waiting for the lessee's approval, or None."""
        change, change_hash = self.call("pendingDeviceChange", to_bytes32(machine_id))
        return change_view(machine_id, change, change_hash)

    def device_lock(self, machine_id: str) -> DeviceLockView | None:
        """The lease lock of the machine's keys, or None."""
        holder, lessee = self.call("deviceLock", to_bytes32(machine_id))
        return DeviceLockView(machine_id, holder, from_bytes32(lessee)) if int(holder, 16) else None

    def is_lease_contract(self, address: str) -> bool:
        return bool(self.call("isLeaseContract", address))

    def require_active_device(self, machine_id: str, device: str) -> None:
        """Nothing if `device` signs for `machine_id` now; else UnknownDevice, DeviceOfAnotherMachine, DeviceNotActive or DeviceNotValidAt."""
        self.call("requireActiveDevice", to_bytes32(machine_id), device)

    def require_device_at(self, machine_id: str, device: str, time: int) -> None:
        """Nothing if `device` signs for `machine_id` readings stamped `time` (at most one key does); else as require_active_device."""
        self.call("requireDeviceAt", to_bytes32(machine_id), device, time)

    def device_history(self, machine_id: str) -> list[DeviceEvent]:
        """The machine's key history from the registry's events (binds, rotations, revocations, requests, approvals,
        lease locks), in chain order, each with its transaction, block and block time."""
        logs = sorted((log for name in DEVICE_EVENTS for log in self.logs(name, machineId=to_bytes32(machine_id))),
                      key=lambda log: (log["blockNumber"], log["logIndex"]))
        times = {n: int(self.ctx.w3.eth.get_block(n)["timestamp"]) for n in {int(log["blockNumber"]) for log in logs}}
        return [device_event(log, times[int(log["blockNumber"])]) for log in logs]

    def check_attestation(self, att: DeviceAttestation) -> AttestationCheck:
        """Check a device attestation against this registry: its signature, that the signer belongs to the machine's
        manufacturer org, and how the key is bound (`AttestationError` if the signature itself does not hold)."""
        signer = recover_signer(att, chain_id=self.ctx.w3.eth.chain_id, registry=self.address)
        signer_org = from_bytes32(self.call("orgOf", signer)) if self.is_member(signer) else None
        machine = self.machine(att.machine_id)
        binding = self.device(att.device)
        return judge(att, signer_org, machine.manufacturer_org if machine else None, binding.machine_id if binding else None,
                     binding.status(self.now()) if binding else None)

    # ---------------------------------------------------------------- device keys: transactions of the manufacturer

    def _change(self, receipt: Receipt, machine_id: str) -> DeviceChangeOutcome:
        waiting = self.receipt_logs("DeviceChangeRequested", receipt)
        return DeviceChangeOutcome(receipt, self.pending_device_change(machine_id) if waiting else None)

    def register_device(self, sender: TxSender, device: str, machine_id: str) -> DeviceChangeOutcome:
        """Bind `device` to a machine the sender's org manufactured (while leased: a request the lessee approves)."""
        return self._change(self.send(sender, "registerDevice", device, to_bytes32(machine_id)), machine_id)

    def rotate_device(self, sender: TxSender, machine_id: str, new_device: str, at: int = 0) -> DeviceChangeOutcome:
        """Replace the machine's key by `new_device` for readings from `at` (0: now, or when the lessee approves)."""
        return self._change(self.send(sender, "rotateDevice", to_bytes32(machine_id), new_device, at), machine_id)

    def revoke_device(self, sender: TxSender, device: str) -> DeviceChangeOutcome:
        """Revoke `device`: none of its signatures count any more (while leased: a request the lessee approves)."""
        binding = self.device(device)
        receipt = self.send(sender, "revokeDevice", device)
        return self._change(receipt, binding.machine_id) if binding else DeviceChangeOutcome(receipt, None)

    def approve_device_change(self, sender: TxSender, machine_id: str, change_hash: bytes) -> Receipt:
        """As the lessee of the lease that locks the machine, approve the waiting change `change_hash`."""
        return self.send(sender, "approveDeviceChange", to_bytes32(machine_id), change_hash)
