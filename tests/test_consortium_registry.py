"""ConsortiumRegistry against a real anvil: membership, k-of-n governance, machines and devices."""

from __future__ import annotations

import pytest

from ground.ids import to_bytes32
from web3.exceptions import ContractLogicError

from chain.reverts import (AlreadyApproved, DeviceExists, DeviceNotActive, DeviceOfAnotherMachine, InvalidThreshold, MissingRole,
                           NotEnoughApprovals, NotMachineOperator, NotMember, ProposalAlreadyExecuted, ProposalExpired, UnknownDevice)
from fedpm.consortium import Role, admit, read_members
from tests.conftest import advance_time, dev_key

pytestmark = pytest.mark.usefixtures("snapshot")


def test_bootstrapped_consortium_has_the_planned_members(consortium):
    members = {m.org_id: m for m in read_members(consortium.contract("ConsortiumRegistry"))}

    assert sorted(members) == sorted(["gov-a", "gov-b", "gov-c", "factory-1", "factory-2", "factory-3", "factory-4", "maker", "agg-1", "agg-2", "agg-3"])
    assert members["factory-2"].roles == Role.OPERATOR | Role.TRAINER
    assert members["agg-1"].accounts == (consortium.accounts["agg-1"].address,)


def test_solidity_role_constants_match_python(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    for role in Role:
        assert getattr(reg.functions, role.name)().call() == role.value


def test_non_member_is_rejected_with_named_error(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    outsider = consortium.ctx.sender(dev_key("outsider"))

    with pytest.raises(NotMember) as err:
        outsider.transact(reg.functions.proposeRemoveOrg(to_bytes32("factory-1")))

    assert err.value.error_args["account"].lower() == outsider.address.lower()
    assert "fedpm consortium propose" in str(err.value)


def test_member_without_governor_role_cannot_propose(consortium):
    reg = consortium.contract("ConsortiumRegistry")

    with pytest.raises(MissingRole) as err:
        consortium.sender("factory-1").transact(reg.functions.proposeRemoveOrg(to_bytes32("factory-2")))

    assert err.value.error_args["role"] == Role.GOVERNOR


def test_k_of_n_approval_admits_an_org_only_at_threshold(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    newcomer = dev_key("newcomer")
    gov_a, gov_b = consortium.sender("gov-a"), consortium.sender("gov-b")
    pid = reg.functions.proposalCount().call()
    gov_a.transact(reg.functions.proposeAddOrg(to_bytes32("factory-5"), "Factory 5", int(Role.OPERATOR), newcomer.address))

    with pytest.raises(NotEnoughApprovals) as err:
        gov_a.transact(reg.functions.execute(pid))
    assert (err.value.error_args["approvals"], err.value.error_args["threshold"]) == (1, 2)
    assert not reg.functions.isMember(newcomer.address).call()

    gov_b.transact(reg.functions.approve(pid))
    gov_b.transact(reg.functions.execute(pid))

    assert reg.functions.hasRole(newcomer.address, int(Role.OPERATOR)).call()
    with pytest.raises(ProposalAlreadyExecuted):
        gov_a.transact(reg.functions.execute(pid))


def test_double_approval_by_the_same_governor_org_is_rejected(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    gov_a = consortium.sender("gov-a")
    pid = reg.functions.proposalCount().call()
    gov_a.transact(reg.functions.proposeSetRoles(to_bytes32("maker"), int(Role.MANUFACTURER | Role.TRAINER)))

    with pytest.raises(AlreadyApproved):
        gov_a.transact(reg.functions.approve(pid))


def test_expired_proposal_cannot_be_approved(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeRemoveOrg(to_bytes32("factory-4")))

    advance_time(consortium.ctx, 7 * 24 * 3600 + 1)

    with pytest.raises(ProposalExpired):
        consortium.sender("gov-b").transact(reg.functions.approve(pid))


def test_removed_org_loses_membership_and_its_accounts(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    account = consortium.accounts["factory-4"].address

    admit_or_remove = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeRemoveOrg(to_bytes32("factory-4")))
    consortium.sender("gov-c").transact(reg.functions.approve(admit_or_remove))
    consortium.sender("gov-c").transact(reg.functions.execute(admit_or_remove))

    assert not reg.functions.isMember(account).call()
    assert "factory-4" not in {m.org_id for m in read_members(reg)}
    with pytest.raises(NotMember):
        consortium.sender("factory-4").transact(reg.functions.addNode("enode://x@127.0.0.1:30303"))


def test_threshold_cannot_exceed_governor_count(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    pid = reg.functions.proposalCount().call()
    consortium.sender("gov-a").transact(reg.functions.proposeSetThreshold(4))
    consortium.sender("gov-b").transact(reg.functions.approve(pid))

    with pytest.raises(InvalidThreshold):
        consortium.sender("gov-b").transact(reg.functions.execute(pid))


def test_admit_helper_and_new_governor_counts_toward_quorum(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    gov_d = dev_key("gov-d")

    admit(reg, consortium.sender("gov-a"), [consortium.sender("gov-b")], "gov-d", "Governor D", Role.GOVERNOR, gov_d.address)

    assert reg.functions.governorCount().call() == 4


def test_device_revocation_and_binding_rules(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    device = consortium.devices["factory-1-m1"]
    machine = to_bytes32("factory-1-m1")
    assert reg.functions.deviceMachine(device.address).call() == [machine, True]

    with pytest.raises(NotMachineOperator):
        consortium.sender("factory-2").transact(reg.functions.revokeDevice(device.address))
    with pytest.raises(DeviceExists):
        consortium.sender("factory-1").transact(reg.functions.registerDevice(device.address, machine))

    consortium.sender("maker").transact(reg.functions.revokeDevice(device.address))  # the manufacturer may revoke too

    assert reg.functions.deviceMachine(device.address).call() == [machine, False]
    with pytest.raises(UnknownDevice):
        consortium.sender("factory-1").transact(reg.functions.revokeDevice(device.address))


def test_require_active_device_names_what_is_wrong_with_a_binding(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    device = consortium.devices["factory-1-m1"].address
    m1, m2 = to_bytes32("factory-1-m1"), to_bytes32("factory-2-m1")

    def error_of(machine: bytes, dev: str):
        try:
            reg.functions.requireActiveDevice(machine, dev).call()
        except ContractLogicError as exc:
            return consortium.ctx.decoder.decode(exc.data)
        return None

    bound, unknown, other = error_of(m1, device), error_of(m1, dev_key("never-bound").address), error_of(m2, device)
    consortium.sender("factory-1").transact(reg.functions.revokeDevice(device))
    revoked, revoked_other = error_of(m1, device), error_of(m2, device)

    assert bound is None
    assert isinstance(unknown, UnknownDevice) and isinstance(revoked, DeviceNotActive)
    assert isinstance(other, DeviceOfAnotherMachine) and other.error_args == {"device": device.lower(), "boundMachine": m1, "machineId": m2}
    assert isinstance(revoked_other, DeviceOfAnotherMachine)  # never this machine's key: that comes before revocation
