"""The consortium as Python sees it: roles, the member table, bootstrapping, and Besu's local allowlists.

Reading and rendering are pure functions over `Member` rows; only `read_members`, `bootstrap` and
`sync_besu` touch the chain or a node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable

from eth_account.signers.local import LocalAccount

from chain.connect import ChainContext, rpc_call
from chain.deploy import Deployment, GenesisOrg, deploy_all
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


class Role(enum.IntFlag):
    """Mirrors contracts/libraries/Roles.sol (a test checks they agree)."""

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


@dataclass(frozen=True)
class Member:
    org_id: str
    name: str
    roles: Role
    active: bool
    accounts: tuple[str, ...]
    enodes: tuple[str, ...]


def read_members(registry: Any, *, include_removed: bool = False) -> list[Member]:
    members = []
    for raw_id in registry.functions.orgIds().call():
        name, roles, active, accounts, enodes = registry.functions.org(raw_id).call()
        if active or include_removed:
            members.append(Member(from_bytes32(raw_id), name, Role(roles), active, tuple(accounts), tuple(enodes)))
    return members


def format_members(members: Iterable[Member]) -> str:
    rows = [("ORG", "NAME", "ROLES", "ACCOUNTS")] + [(m.org_id, m.name, m.roles.label(), " ".join(m.accounts)) for m in members]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows)


# ---------------------------------------------------------------- governance helpers


def enact(registry: Any, proposer: TxSender, approvers: list[TxSender], proposal: Any) -> Receipt:
    """Send the `propose*` call `proposal` (the proposer's org approves at once), gather the other governors'
    approvals and execute it; returns the receipt of the execution."""
    pid = registry.functions.proposalCount().call()
    proposer.transact(proposal)
    for sender in approvers:
        sender.transact(registry.functions.approve(pid))
    return proposer.transact(registry.functions.execute(pid))


def admit(registry: Any, proposer: TxSender, approvers: list[TxSender], org: str, name: str, roles: Role, account: str) -> int:
    """Propose, gather approvals and execute the admission of one org; returns the proposal id."""
    pid = registry.functions.proposalCount().call()
    enact(registry, proposer, approvers, registry.functions.proposeAddOrg(to_bytes32(org), name, int(roles), account))
    return pid


def mint(registry: Any, token: Any, proposer: TxSender, approvers: list[TxSender], to: str, amount: int) -> Receipt:
    """Mint `amount` of `token` to `to` the only way supply changes: a Mint proposal approved k-of-n and executed."""
    return enact(registry, proposer, approvers, registry.functions.proposeMint(token.address, to, amount))


def add_account(registry: Any, member: TxSender, new: TxSender) -> None:
    """Add `new`'s account to `member`'s org: the member offers it, then the new key accepts (signs for itself)."""
    org = registry.functions.orgOf(member.address).call()
    member.transact(registry.functions.addAccount(new.address))
    new.transact(registry.functions.acceptAccount(org))


# ---------------------------------------------------------------- bootstrapping a consortium


@dataclass(frozen=True)
class OrgPlan:
    org: str
    name: str
    roles: Role


@dataclass
class Consortium:
    ctx: ChainContext
    deployment: Deployment
    accounts: dict[str, LocalAccount]
    machines: dict[str, str] = field(default_factory=dict)  # operator org -> machine id
    devices: dict[str, LocalAccount] = field(default_factory=dict)  # machine id -> device key

    def sender(self, org: str) -> TxSender:
        return self.ctx.sender(self.accounts[org])

    def contract(self, name: str) -> Any:
        return self.ctx.contract(name)

    def mint(self, governors: list[str], to: str, amount: int) -> Receipt:
        """Mint consortium tokens by a Mint proposal of `governors[0]`, approved by as many more as the threshold needs."""
        registry = self.contract("ConsortiumRegistry")
        senders = [self.sender(g) for g in governors[: registry.functions.threshold().call()]]
        return mint(registry, self.contract("ConsortiumToken"), senders[0], senders[1:], to, amount)


def demo_plan(factories: int = 4, aggregators: int = 3) -> list[OrgPlan]:
    plan = [OrgPlan(f"gov-{c}", f"Governor {c.upper()}", Role.GOVERNOR) for c in "abc"]
    plan += [OrgPlan(f"factory-{i}", f"Factory {i}", Role.OPERATOR | Role.TRAINER) for i in range(1, factories + 1)]
    plan.append(OrgPlan("maker", "Machine Maker", Role.MANUFACTURER))
    plan += [OrgPlan(f"agg-{i}", f"Aggregator {i}", Role.AGGREGATOR) for i in range(1, aggregators + 1)]
    return plan


def bootstrap(ctx: ChainContext, plan: list[OrgPlan], accounts: dict[str, LocalAccount], *, threshold: int = 2, devices: dict[str, LocalAccount] | None = None) -> Consortium:
    """Deploy everything, admit the plan's orgs by k-of-n vote, register one machine and device per operator.

    `accounts` maps each org in the plan to its first account; `devices` maps machine ids to device keys
    (a machine `<org>-m1` is registered for every OPERATOR org that has a device given).
    """
    governors = [p for p in plan if Role.GOVERNOR in p.roles]
    genesis = [GenesisOrg(p.org, accounts[p.org].address, int(p.roles & ~Role.GOVERNOR), p.name) for p in governors]
    deployment = deploy_all(ctx.w3, ctx.sender(accounts[governors[0].org]), ctx.artifacts, genesis, threshold)
    deployment.save(ctx.deployment_path)
    c = Consortium(ctx, deployment, dict(accounts))
    registry = ctx.contract("ConsortiumRegistry")
    gov_senders = [c.sender(p.org) for p in governors]
    for p in plan:
        if Role.GOVERNOR not in p.roles:
            admit(registry, gov_senders[0], gov_senders[1:threshold], p.org, p.name, p.roles, accounts[p.org].address)
    maker = next((p.org for p in plan if Role.MANUFACTURER in p.roles), None)
    for machine_id, device in (devices or {}).items():
        operator = machine_id.rsplit("-m", 1)[0]
        op = c.sender(operator)
        op.transact(registry.functions.registerMachine(to_bytes32(machine_id), to_bytes32(maker or operator), b"\0" * 32))
        op.transact(registry.functions.registerDevice(device.address, to_bytes32(machine_id)))
        c.machines[operator] = machine_id
        c.devices[machine_id] = device
    return c


# ---------------------------------------------------------------- Besu local permissioning


def render_besu_allowlist(members: Iterable[Member]) -> str:
    """Besu's `permissions_config.toml` for the member list (accounts and enodes of active orgs), sorted."""
    accounts = sorted({a.lower() for m in members if m.active for a in m.accounts})
    nodes = sorted({e for m in members if m.active for e in m.enodes})

    def toml_list(items: list[str]) -> str:
        return "[" + ",".join(f'"{i}"' for i in items) + "]"

    return f"accounts-allowlist={toml_list(accounts)}\nnodes-allowlist={toml_list(nodes)}\n"


@dataclass(frozen=True)
class AllowlistDiff:
    add_accounts: list[str]
    remove_accounts: list[str]
    add_nodes: list[str]
    remove_nodes: list[str]

    @property
    def empty(self) -> bool:
        return not (self.add_accounts or self.remove_accounts or self.add_nodes or self.remove_nodes)


def allowlist_diff(members: Iterable[Member], current_accounts: Iterable[str], current_nodes: Iterable[str]) -> AllowlistDiff:
    members = list(members)
    want_a = {a.lower() for m in members if m.active for a in m.accounts}
    want_n = {e for m in members if m.active for e in m.enodes}
    have_a = {a.lower() for a in current_accounts}
    have_n = set(current_nodes)
    return AllowlistDiff(sorted(want_a - have_a), sorted(have_a - want_a), sorted(want_n - have_n), sorted(have_n - want_n))


def sync_besu(url: str, members: Iterable[Member]) -> AllowlistDiff:
    """Apply the difference to a Besu node through its `perm_*` JSON-RPC methods (PERM API enabled)."""
    diff = allowlist_diff(members, rpc_call(url, "perm_getAccountsAllowlist", []), rpc_call(url, "perm_getNodesAllowlist", []))
    calls = [("perm_addAccountsToAllowlist", diff.add_accounts), ("perm_removeAccountsFromAllowlist", diff.remove_accounts),
             ("perm_addNodesToAllowlist", diff.add_nodes), ("perm_removeNodesFromAllowlist", diff.remove_nodes)]
    for method, items in calls:
        if items:
            rpc_call(url, method, [items])
    return diff
