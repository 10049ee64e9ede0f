"""ConsortiumRegistry against a real anvil: membership, k-of-n governance, machines and devices."""

from __future__ import annotations

import pytest

from chain.reverts import (AlreadyApproved, DeviceExists, DeviceNotActive, DeviceOfAnotherMachine, InvalidThreshold, MissingRole,
                           NotEnoughApprovals, NotManufacturer, NotMember, ProposalAlreadyExecuted, ProposalExpired, UnknownDevice)
from fedpm.consortium.client import Role
from ground.ids import to_bytes32
from tests.conftest import advance_time, dev_key

pytestmark = pytest.mark.usefixtures("snapshot")


def test_bootstrapped_consortium_has_the_planned_members(consortium):
    members = {m.org_id: m for m in consortium.registry.members()}

    assert sorted(members) == sorted(["gov-a", "gov-b", "gov-c", "factory-1", "factory-2", "factory-3", "factory-4", "maker", "agg-1", "agg-2", "agg-3"])
    assert members["factory-2"].roles == Role.OPERATOR | Role.TRAINER
    assert members["agg-1"].accounts == (consortium.accounts["agg-1"].address,)


def test_solidity_role_constants_match_python(consortium):
    reg = consortium.contract("ConsortiumRegistry")
    for role in Role:
        assert getattr(reg.functions, role.name)().call() == role.value


def test_non_member_is_rejected_with_named_error(consortium):
    outsider = consortium.ctx.sender(dev_key("outsider"))

    with pytest.raises(NotMember) as err:
        consortium.registry.propose_remove_org(outsider, "factory-1")

    assert err.value.error_args["account"].lower() == outsider.address.lower()
    assert "fedpm consortium propose" in str(err.value)


def test_member_without_governor_role_cannot_propose(consortium):
    with pytest.raises(MissingRole) as err:
        consortium.registry.propose_remove_org(consortium.sender("factory-1"), "factory-2")

    assert err.value.error_args["role"] == Role.GOVERNOR


def test_k_of_n_approval_admits_an_org_only_at_threshold(consortium):
    reg = consortium.registry
    newcomer = dev_key("newcomer")
    gov_a, gov_b = consortium.sender("gov-a"), consortium.sender("gov-b")
    pid = reg.propose_add_org(gov_a, "factory-5", "Factory 5", Role.OPERATOR, newcomer.address)

    with pytest.raises(NotEnoughApprovals) as err:
        reg.execute(gov_a, pid)
    assert (err.value.error_args["approvals"], err.value.error_args["threshold"]) == (1, 2)
    assert not reg.is_member(newcomer.address)

    reg.approve(gov_b, pid)
    reg.execute(gov_b, pid)

    assert reg.has_role(newcomer.address, Role.OPERATOR)
    with pytest.raises(ProposalAlreadyExecuted):
        reg.execute(gov_a, pid)


def test_double_approval_by_the_same_governor_org_is_rejected(consortium):
    reg = consortium.registry
    gov_a = consortium.sender("gov-a")
    pid = reg.propose_set_roles(gov_a, "maker", Role.MANUFACTURER | Role.TRAINER)

    with pytest.raises(AlreadyApproved):
        reg.approve(gov_a, pid)


def test_expired_proposal_cannot_be_approved(consortium):
    reg = consortium.registry
    pid = reg.propose_remove_org(consortium.sender("gov-a"), "factory-4")

    advance_time(consortium.ctx, 7 * 24 * 3600 + 1)

    with pytest.raises(ProposalExpired):
        reg.approve(consortium.sender("gov-b"), pid)


def test_removed_org_loses_membership_and_its_accounts(consortium):
    reg = consortium.registry
    account = consortium.accounts["factory-4"].address

    admit_or_remove = reg.propose_remove_org(consortium.sender("gov-a"), "factory-4")
    reg.approve(consortium.sender("gov-c"), admit_or_remove)
    reg.execute(consortium.sender("gov-c"), admit_or_remove)

    assert not reg.is_member(account)
    assert "factory-4" not in {m.org_id for m in reg.members()}
    with pytest.raises(NotMember):
        reg.add_node(consortium.sender("factory-4"), "enode://x@127.0.0.1:30303")


def test_threshold_cannot_exceed_governor_count(consortium):
    reg = consortium.registry
    pid = reg.propose_set_threshold(consortium.sender("gov-a"), 4)
    reg.approve(consortium.sender("gov-b"), pid)

    with pytest.raises(InvalidThreshold):
        reg.execute(consortium.sender("gov-b"), pid)


def test_admit_helper_and_new_governor_counts_toward_quorum(consortium):
    reg = consortium.registry
    gov_d = dev_key("gov-d")

    reg.admit(consortium.sender("gov-a"), [consortium.sender("gov-b")], "gov-d", "Governor D", Role.GOVERNOR, gov_d.address)

    assert reg.governor_count() == 4


def test_device_revocation_and_binding_rules(consortium):
    reg = consortium.registry
    device = consortium.devices["factory-1-m1"]
    machine = "factory-1-m1"
    assert reg.device(device.address).active and reg.device(device.address).machine_id == machine

    with pytest.raises(NotManufacturer):
        reg.revoke_device(consortium.sender("factory-1"), device.address)  # the operator runs the machine but did not build it
    with pytest.raises(DeviceExists):
        reg.register_device(consortium.sender("maker"), device.address, "factory-2-m1")

    reg.revoke_device(consortium.sender("maker"), device.address)

    after = reg.device(device.address)
    assert (after.machine_id, after.active, after.revoked) == (machine, False, True)
    with pytest.raises(UnknownDevice):
        reg.revoke_device(consortium.sender("maker"), device.address)


def test_require_active_device_names_what_is_wrong_with_a_binding(consortium):
    reg = consortium.registry
    device = consortium.devices["factory-1-m1"].address
    m1, m2 = "factory-1-m1", "factory-2-m1"

    def error_of(machine: str, dev: str):
        try:
            reg.require_active_device(machine, dev)
        except (UnknownDevice, DeviceNotActive, DeviceOfAnotherMachine) as exc:
            return exc
        return None

    bound, unknown, other = error_of(m1, device), error_of(m1, dev_key("never-bound").address), error_of(m2, device)
    reg.revoke_device(consortium.sender("maker"), device)
    revoked, revoked_other = error_of(m1, device), error_of(m2, device)

    assert bound is None
    assert isinstance(unknown, UnknownDevice) and isinstance(revoked, DeviceNotActive)
    assert isinstance(other, DeviceOfAnotherMachine) and other.error_args == {"device": device.lower(), "boundMachine": to_bytes32(m1), "machineId": to_bytes32(m2)}
    assert isinstance(revoked_other, DeviceOfAnotherMachine)  # never this machine's key: that comes before revocation
