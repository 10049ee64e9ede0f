"""Issue 11, attacks 1, 4, 5 and 6 performed with real transactions on anvil: unilateral minting, a removed
coordinator, address squatting, and unbounded per-org lists with the gas bound of every governance action."""

from __future__ import annotations

import pytest

from ground.ids import to_bytes32
from chain.reverts import AccountReserved, NoAccountOffer, NotEnoughApprovals, NotMember, NotRegistry, ProposalAlreadyExecuted, TextTooLong, TooManyAccounts, TooManyNodes
from fedpm.consortium import Role, add_account, admit
from fl_node.rounds import FederatedLearning, TaskConfig
from fl_node.storage.cid import cid_of
from tests.conftest import dev_key

pytestmark = pytest.mark.usefixtures("snapshot")


def test_attack1_no_single_governor_mints_supply_changes_only_by_executed_proposals(consortium):
    reg, token = consortium.contract("ConsortiumRegistry"), consortium.contract("ConsortiumToken")
    thief = dev_key("thief").address
    supply = token.functions.totalSupply().call()

    for org in ("gov-a", "gov-b", "factory-1"):  # the attack: one account mints for itself without limit
        with pytest.raises(NotRegistry):
            consortium.sender(org).transact(token.functions.mint(thief, 10**30))
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeMint(token.address, thief, 7))
    with pytest.raises(NotEnoughApprovals):  # 1 of the 2 approvals the threshold needs
        consortium.sender("gov-a").transact(reg.functions.execute(pid))
    assert token.functions.totalSupply().call() == supply

    consortium.sender("gov-b").transact(reg.functions.approve(pid))
    consortium.sender("factory-1").transact(reg.functions.execute(pid))  # any member may execute an approved one
    with pytest.raises(ProposalAlreadyExecuted):
        consortium.sender("gov-a").transact(reg.functions.execute(pid))

    assert token.functions.totalSupply().call() == supply + 7
    assert token.functions.balanceOf(thief).call() == 7


def test_attack4_removed_coordinator_cannot_open_rounds_of_its_task(consortium):
    reg, fl = consortium.contract("ConsortiumRegistry"), FederatedLearning(consortium.ctx)
    a = consortium.accounts
    task_id = fl.create_task(consortium.sender("gov-c"), TaskConfig(b"\1" * 32, cid_of(b"spec"), b"\2" * 32, cid_of(b"model"), [a["factory-1"].address],
                                                                    [a["agg-1"].address], 1, 600, 600, 0, 3))
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeRemoveOrg(to_bytes32("gov-c")))
    consortium.sender("gov-b").transact(reg.functions.approve(pid))
    consortium.sender("gov-a").transact(reg.functions.execute(pid))

    with pytest.raises(NotMember):  # the attack: the removed governor still runs its task
        fl.open_round(consortium.sender("gov-c"), task_id)

    assert fl.task(task_id).rounds_started == 0


def test_attack5_pending_addorg_address_cannot_be_squatted(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    newcomer = dev_key("newcomer")
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeAddOrg(to_bytes32("newco"), "New Co", int(Role.OPERATOR), newcomer.address))

    with pytest.raises(AccountReserved):  # the attack: a member claims the address the proposal names
        consortium.sender("factory-2").transact(reg.functions.addAccount(newcomer.address))
    consortium.sender("gov-b").transact(reg.functions.approve(pid))
    consortium.sender("gov-a").transact(reg.functions.execute(pid))

    assert reg.functions.orgOf(newcomer.address).call() == to_bytes32("newco")


def test_attack5_an_offered_account_joins_only_when_its_own_key_accepts(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    victim = dev_key("someone-elses-key")

    consortium.sender("factory-2").transact(reg.functions.addAccount(victim.address))  # the squatter's offer
    consortium.sender("factory-3").transact(reg.functions.addAccount(victim.address))  # offers do not overwrite each other

    assert not reg.functions.isMember(victim.address).call()  # not taken: the key never accepted
    assert reg.functions.accountOffered(victim.address, to_bytes32("factory-2")).call()
    with pytest.raises(NoAccountOffer):
        consortium.ctx.sender(victim).transact(reg.functions.acceptAccount(to_bytes32("factory-1")))
    admit(reg, consortium.sender("gov-a"), [consortium.sender("gov-b")], "victim-co", "Victim Co", Role.OPERATOR, victim.address)
    assert reg.functions.orgOf(victim.address).call() == to_bytes32("victim-co")


# ---------------------------------------------------------------- attack 6: bounded lists, bounded governance gas

# Gas bounds per governance action (execute) at the maximum sizes the registry allows: MAX_ACCOUNTS accounts and
# MAX_NODES enodes of MAX_ENODE_BYTES each, a MAX_NAME_BYTES name. A 30M-gas block holds every one many times over.
EXECUTE_GAS_BOUNDS = {"AddOrg": 350_000, "RemoveOrg": 700_000, "SetRoles": 100_000, "SetThreshold": 100_000, "Mint": 150_000}


def _execute_gas(consortium, proposal) -> int:
    reg = consortium.contract("ConsortiumRegistry")
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(proposal)
    consortium.sender("gov-b").transact(reg.functions.approve(pid))
    return consortium.sender("gov-a").transact(reg.functions.execute(pid)).gas_used


def test_attack6_per_org_lists_are_capped(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    max_accounts, max_nodes, max_enode = (reg.functions.MAX_ACCOUNTS().call(), reg.functions.MAX_NODES().call(),
                                          reg.functions.MAX_ENODE_BYTES().call())
    member = consortium.sender("factory-1")
    for i in range(max_accounts - 1):
        add_account(reg, member, consortium.ctx.sender(dev_key(f"factory-1-extra-{i}")))
    for i in range(max_nodes):
        member.transact(reg.functions.addNode(f"enode://{i:0>{max_enode - 8}}"))

    with pytest.raises(TooManyAccounts):  # the attack: grow the org until removing it no longer fits a block
        member.transact(reg.functions.addAccount(dev_key("one-too-many").address))
    with pytest.raises(TooManyNodes):
        member.transact(reg.functions.addNode("enode://x"))
    with pytest.raises(TextTooLong):
        consortium.sender("factory-2").transact(reg.functions.addNode("e" * (max_enode + 1)))

    assert len(reg.functions.org(to_bytes32("factory-1")).call()[3]) == max_accounts


def test_attack6_every_governance_action_stays_within_its_gas_bound_at_maximum_sizes(consortium, capsys):
    reg, token = consortium.contract("ConsortiumRegistry"), consortium.contract("ConsortiumToken")
    max_accounts, max_nodes, max_enode, max_name = (reg.functions.MAX_ACCOUNTS().call(), reg.functions.MAX_NODES().call(),
                                                    reg.functions.MAX_ENODE_BYTES().call(), reg.functions.MAX_NAME_BYTES().call())
    big = dev_key("big-org")
    gas = {"AddOrg": _execute_gas(consortium, reg.functions.proposeAddOrg(to_bytes32("big-org"), "n" * max_name, int(Role.GOVERNOR | Role.OPERATOR | Role.MANUFACTURER | Role.AGGREGATOR | Role.TRAINER), big.address))}
    member = consortium.ctx.sender(big)
    for i in range(max_accounts - 1):
        add_account(reg, member, consortium.ctx.sender(dev_key(f"big-org-{i}")))
    for i in range(max_nodes):
        member.transact(reg.functions.addNode(f"enode://{i:0>{max_enode - 8}}"))
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeAddOrg(to_bytes32("long"), "n" * (max_name + 1), 2, dev_key("long").address))
    consortium.sender("gov-b").transact(reg.functions.approve(pid))
    with pytest.raises(TextTooLong):
        consortium.sender("gov-a").transact(reg.functions.execute(pid))

    gas["SetRoles"] = _execute_gas(consortium, reg.functions.proposeSetRoles(to_bytes32("big-org"), int(Role.OPERATOR | Role.TRAINER)))
    gas["SetThreshold"] = _execute_gas(consortium, reg.functions.proposeSetThreshold(2))
    gas["Mint"] = _execute_gas(consortium, reg.functions.proposeMint(token.address, big.address, 10**24))
    gas["RemoveOrg"] = _execute_gas(consortium, reg.functions.proposeRemoveOrg(to_bytes32("big-org")))
    with capsys.disabled():
        print(f"\ngovernance execute gas at maximum sizes: {gas} (bounds {EXECUTE_GAS_BOUNDS})")

    assert not reg.functions.isMember(big.address).call()
    assert all(gas[kind] <= bound for kind, bound in EXECUTE_GAS_BOUNDS.items()), gas
