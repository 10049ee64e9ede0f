"""Issue 11, attacks 1, 4, 5 and 6 performed with real transactions on anvil: unilateral minting, a removed
coordinator, address squatting, and unbounded per-org lists with the gas bound of every governance action."""

from __future__ import annotations

import pytest

from chain.reverts import AccountReserved, NoAccountOffer, NotEnoughApprovals, NotMember, NotRegistry, ProposalAlreadyExecuted, TextTooLong, TooManyAccounts, TooManyNodes
from fedpm.consortium.client import ConsortiumRegistry, ProposalKind, Role
from fedpm.lease.client import ConsortiumToken
from fl_node.rounds import FederatedLearning, TaskConfig
from tests.conftest import dev_key

pytestmark = pytest.mark.usefixtures("snapshot")


def test_attack1_no_single_governor_mints_supply_changes_only_by_executed_proposals(consortium):
    reg, token = consortium.registry, ConsortiumToken(consortium.ctx)
    thief = dev_key("thief").address
    supply = token.total_supply()

    for org in ("gov-a", "gov-b", "factory-1"):  # the attack: one account mints for itself without limit
        with pytest.raises(NotRegistry):
            consortium.sender(org).transact(token.contract.functions.mint(thief, 10**30))  # raw: the client offers no mint
    pid = reg.propose_mint(consortium.sender("gov-a"), token.address, thief, 7)
    with pytest.raises(NotEnoughApprovals):  # 1 of the 2 approvals the threshold needs
        reg.execute(consortium.sender("gov-a"), pid)
    assert token.total_supply() == supply

    reg.approve(consortium.sender("gov-b"), pid)
    reg.execute(consortium.sender("factory-1"), pid)  # any member may execute an approved one
    with pytest.raises(ProposalAlreadyExecuted):
        reg.execute(consortium.sender("gov-a"), pid)

    assert token.total_supply() == supply + 7
    assert token.balance_of(thief) == 7


def test_attack4_removed_coordinator_cannot_open_rounds_of_its_task(consortium):
    reg, fl = consortium.registry, FederatedLearning(consortium.ctx)
    a = consortium.accounts
    task_id = fl.create_task(consortium.sender("gov-c"), TaskConfig(b"\1" * 32, "spec", b"\2" * 32, "model", [a["factory-1"].address],
                                                                    [a["agg-1"].address], 1, 600, 600, 0, 3))
    reg.enact(reg.propose_remove_org(consortium.sender("gov-a"), "gov-c"), [consortium.sender("gov-b")], consortium.sender("gov-a"))

    with pytest.raises(NotMember):  # the attack: the removed governor still runs its task
        fl.open_round(consortium.sender("gov-c"), task_id)

    assert fl.task(task_id).rounds_started == 0


def test_attack5_pending_addorg_address_cannot_be_squatted(consortium):
    reg = consortium.registry
    newcomer = dev_key("newcomer")
    pid = reg.propose_add_org(consortium.sender("gov-a"), "newco", "New Co", Role.OPERATOR, newcomer.address)

    with pytest.raises(AccountReserved):  # the attack: a member claims the address the proposal names
        reg.add_account(consortium.sender("factory-2"), newcomer.address)
    reg.approve(consortium.sender("gov-b"), pid)
    reg.execute(consortium.sender("gov-a"), pid)

    assert reg.org_of(newcomer.address) == "newco"


def test_attack5_an_offered_account_joins_only_when_its_own_key_accepts(consortium):
    reg = consortium.registry
    victim = dev_key("someone-elses-key")

    reg.add_account(consortium.sender("factory-2"), victim.address)  # the squatter's offer
    reg.add_account(consortium.sender("factory-3"), victim.address)  # offers do not overwrite each other

    assert not reg.is_member(victim.address)  # not taken: the key never accepted
    assert reg.account_offered(victim.address, "factory-2")
    with pytest.raises(NoAccountOffer):
        reg.accept_account(consortium.ctx.sender(victim), "factory-1")
    reg.admit(consortium.sender("gov-a"), [consortium.sender("gov-b")], "victim-co", "Victim Co", Role.OPERATOR, victim.address)
    assert reg.org_of(victim.address) == "victim-co"


# ---------------------------------------------------------------- attack 6: bounded lists, bounded governance gas

# Gas bounds per governance action (execute) at the maximum sizes the registry allows: MAX_ACCOUNTS accounts and
# MAX_NODES enodes of MAX_ENODE_BYTES each, a MAX_NAME_BYTES name. A 30M-gas block holds every one many times over.
EXECUTE_GAS_BOUNDS = {"AddOrg": 350_000, "RemoveOrg": 700_000, "SetRoles": 100_000, "SetThreshold": 100_000, "Mint": 150_000, "AddLeaseContract": 120_000}


def _execute_gas(consortium, pid: int, proposer) -> int:
    """Gas of executing proposal `pid` by its proposer once gov-b approved it."""
    consortium.registry.approve(consortium.sender("gov-b"), pid)
    return consortium.registry.execute(proposer, pid).gas_used


def test_attack6_per_org_lists_are_capped(consortium):
    reg: ConsortiumRegistry = consortium.registry
    limits = reg.limits()
    member = consortium.sender("factory-1")
    for i in range(limits.max_accounts - 1):
        reg.enroll(member, consortium.ctx.sender(dev_key(f"factory-1-extra-{i}")))
    for i in range(limits.max_nodes):
        reg.add_node(member, f"enode://{i:0>{limits.max_enode_bytes - 8}}")

    with pytest.raises(TooManyAccounts):  # the attack: grow the org until removing it no longer fits a block
        reg.add_account(member, dev_key("one-too-many").address)
    with pytest.raises(TooManyNodes):
        reg.add_node(member, "enode://x")
    with pytest.raises(TextTooLong):
        reg.add_node(consortium.sender("factory-2"), "e" * (limits.max_enode_bytes + 1))

    assert len(reg.org("factory-1").accounts) == limits.max_accounts


def test_attack6_every_governance_action_stays_within_its_gas_bound_at_maximum_sizes(consortium, capsys):
    reg, token = consortium.registry, ConsortiumToken(consortium.ctx)
    limits = reg.limits()
    gov_a = consortium.sender("gov-a")
    big = dev_key("big-org")
    every_role = Role.GOVERNOR | Role.OPERATOR | Role.MANUFACTURER | Role.AGGREGATOR | Role.TRAINER
    gas = {"AddOrg": _execute_gas(consortium, reg.propose_add_org(gov_a, "big-org", "n" * limits.max_name_bytes, every_role, big.address), gov_a)}
    member = consortium.ctx.sender(big)
    for i in range(limits.max_accounts - 1):
        reg.enroll(member, consortium.ctx.sender(dev_key(f"big-org-{i}")))
    for i in range(limits.max_nodes):
        reg.add_node(member, f"enode://{i:0>{limits.max_enode_bytes - 8}}")
    pid = reg.propose_add_org(gov_a, "long", "n" * (limits.max_name_bytes + 1), Role.OPERATOR, dev_key("long").address)
    reg.approve(consortium.sender("gov-b"), pid)
    with pytest.raises(TextTooLong):
        reg.execute(gov_a, pid)

    gas["SetRoles"] = _execute_gas(consortium, reg.propose_set_roles(gov_a, "big-org", Role.OPERATOR | Role.TRAINER), gov_a)
    gas["SetThreshold"] = _execute_gas(consortium, reg.propose_set_threshold(gov_a, 2), gov_a)
    gas["Mint"] = _execute_gas(consortium, reg.propose_mint(gov_a, token.address, big.address, 10**24), gov_a)
    gas["RemoveOrg"] = _execute_gas(consortium, reg.propose_remove_org(gov_a, "big-org"), gov_a)
    gas["AddLeaseContract"] = _execute_gas(consortium, reg.propose_add_lease_contract(gov_a, dev_key("a-second-lease").address), gov_a)
    with capsys.disabled():
        print(f"\ngovernance execute gas at maximum sizes: {gas} (bounds {EXECUTE_GAS_BOUNDS})")

    assert not reg.is_member(big.address)
    assert all(gas[kind] <= bound for kind, bound in EXECUTE_GAS_BOUNDS.items()), gas
    assert set(EXECUTE_GAS_BOUNDS) == {k.solidity_name for k in ProposalKind}  # every kind of proposal has its bound
