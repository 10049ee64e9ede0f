"""Bootstrapping a consortium: deploy every contract, admit a planned set of organizations by k-of-n vote, trust the
deployment's MachineLease to lock device keys during leases, register one machine per operator (built by the
maker, which provisions its device key). The demo, the tests and the benches start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from chain.connect import ChainContext
from chain.deploy import Deployment, GenesisOrg, deploy_all
from chain.sender import Receipt, TxSender
from fedpm.consortium.client import ConsortiumRegistry, Role


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

    def contract(self, name: str) -> Contract:
        """The raw web3 contract (for what no client offers: attacks on the contract itself, foreign ABIs)."""
        return self.ctx.contract(name)

    @cached_property
    def registry(self) -> ConsortiumRegistry:
        return ConsortiumRegistry(self.ctx)

    def mint(self, governors: list[str], to: str, amount: int) -> Receipt:
        """Mint consortium tokens by a Mint proposal of `governors[0]`, approved by as many more as the threshold needs."""
        senders = [self.sender(g) for g in governors[: self.registry.threshold()]]
        return self.registry.mint(senders[0], senders[1:], self.deployment.address("ConsortiumToken"), to, amount)


def demo_plan(factories: int = 4, aggregators: int = 3) -> list[OrgPlan]:
    plan = [OrgPlan(f"gov-{c}", f"Governor {c.upper()}", Role.GOVERNOR) for c in "abc"]
    plan += [OrgPlan(f"factory-{i}", f"Factory {i}", Role.OPERATOR | Role.TRAINER) for i in range(1, factories + 1)]
    plan.append(OrgPlan("maker", "Machine Maker", Role.MANUFACTURER))
    plan += [OrgPlan(f"agg-{i}", f"Aggregator {i}", Role.AGGREGATOR) for i in range(1, aggregators + 1)]
    return plan


def propose_lease_trust(registry: ConsortiumRegistry, proposer: TxSender, deployment: Deployment) -> int | None:
    """Propose that the governors trust the deployment's MachineLease to lock device keys during its leases (its
    accept refuses until they do); returns the proposal id, or None without a MachineLease."""
    if "MachineLease" not in deployment.contracts:
        return None
    return registry.propose_add_lease_contract(proposer, deployment.address("MachineLease"))


def bootstrap(ctx: ChainContext, plan: list[OrgPlan], accounts: dict[str, LocalAccount], *, threshold: int = 2, devices: dict[str, LocalAccount] | None = None) -> Consortium:
    """Deploy everything, admit the plan's orgs and trust the MachineLease by k-of-n vote, register one machine per
    operator and have its manufacturer (the plan's MANUFACTURER org) bind its device key.

    `accounts` maps each org in the plan to its first account; `devices` maps machine ids to device keys
    (a machine `<org>-m1` is registered for every OPERATOR org that has a device given).
    """
    governors = [p for p in plan if Role.GOVERNOR in p.roles]
    genesis = [GenesisOrg(p.org, accounts[p.org].address, int(p.roles & ~Role.GOVERNOR), p.name) for p in governors]
    deployment = deploy_all(ctx.w3, ctx.sender(accounts[governors[0].org]), ctx.artifacts, genesis, threshold)
    deployment.save(ctx.deployment_path)
    c = Consortium(ctx, deployment, dict(accounts))
    gov_senders = [c.sender(p.org) for p in governors]
    for p in plan:
        if Role.GOVERNOR not in p.roles:
            c.registry.admit(gov_senders[0], gov_senders[1:threshold], p.org, p.name, p.roles, accounts[p.org].address)
    trust = propose_lease_trust(c.registry, gov_senders[0], deployment)
    if trust is not None:
        c.registry.enact(trust, gov_senders[1:threshold], gov_senders[0])
    maker = next((p.org for p in plan if Role.MANUFACTURER in p.roles), None)
    for machine_id, device in (devices or {}).items():
        if maker is None:
            raise ValueError("a plan with machines needs a MANUFACTURER org: it builds them and provisions their device keys")
        operator = machine_id.rsplit("-m", 1)[0]
        c.registry.register_machine(c.sender(operator), machine_id, maker)
        c.registry.register_device(c.sender(maker), device.address, machine_id)
        c.machines[operator] = machine_id
        c.devices[machine_id] = device
    return c
