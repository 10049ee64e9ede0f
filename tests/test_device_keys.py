"""Device keys against a real anvil: the manufacturer binds, rotates and revokes; readings keep counting across an
announced rotation; a lease lock makes a change wait for the lessee; attestations; the key history from events."""

from __future__ import annotations

import dataclasses

import pytest

from chain.reverts import (DeviceNotValidAt, InvalidRotationTime, MachineHasDevice, NoCurrentDevice, NoPendingChange, NotLeaseContract, NotMachineLessee,
                           NotManufacturer, RotationScheduled)
from fedpm.consortium.attestation import AttestationError, DeviceAttestation, attest
from fedpm.consortium.devices import DeviceChangeKind
from fedpm.lease.client import MachineLease
from ground.ids import to_bytes32
from tests.conftest import advance_time, dev_key
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, UNIT, Leasing, leasing, make_tariff, stamp  # noqa: F401

HOUR = 1000


def test_an_announced_rotation_splits_reading_times_and_the_history_names_who_did_what(consortium, snapshot):
    reg = consortium.registry
    old, new = consortium.devices["factory-2-m1"].address, dev_key("factory-2-m1-second").address
    at = reg.now() + 600

    outcome = reg.rotate_device(consortium.sender("maker"), "factory-2-m1", new, at)

    assert outcome.pending is None  # no lease locks the machine: applied at once
    keys = reg.device_keys("factory-2-m1")
    assert [(k.device, k.valid_until, k.active) for k in keys] == [(old, at, True), (new, 0, False)]
    assert keys[1].valid_from == at and keys[1].status(reg.now()) == "scheduled"
    reg.require_device_at("factory-2-m1", old, at - 1)
    reg.require_device_at("factory-2-m1", new, at)
    with pytest.raises(DeviceNotValidAt) as err:
        reg.require_device_at("factory-2-m1", old, at)
    assert (err.value.error_args["validFrom"], err.value.error_args["validUntil"]) == (keys[0].valid_from, at)
    history = reg.device_history("factory-2-m1")
    assert [(e.event, e.device, e.old_device, e.by) for e in history] == [
        ("DeviceBound", old, None, consortium.accounts["maker"].address),
        ("DeviceRotated", new, old, consortium.accounts["maker"].address)]
    assert history[1].at == at and history[1].tx == outcome.receipt.tx_hash and history[1].time >= history[0].time
    lease = MachineLease(consortium.ctx)  # a lease starts after the announced key takes over, not before
    lease_id, _ = lease.offer(consortium.sender("maker"), "factory-2-m1", make_tariff(consortium.ctx))
    consortium.mint(["gov-a", "gov-b"], consortium.accounts["factory-2"].address, 20 * UNIT)
    with pytest.raises(RotationScheduled):
        lease.accept(consortium.sender("factory-2"), lease_id, 20 * UNIT, lease.sign_usage(consortium.devices["factory-2-m1"], lease_id, "factory-2-m1", 0))


def test_the_manufacturer_alone_changes_keys_and_only_one_at_a_time(consortium, snapshot):
    reg = consortium.registry
    device = consortium.devices["factory-3-m1"].address
    other = dev_key("factory-3-m1-other").address

    for org in ("factory-3", "factory-1"):  # the machine's operator, and another operator
        with pytest.raises(NotManufacturer):
            reg.rotate_device(consortium.sender(org), "factory-3-m1", other)
    with pytest.raises(MachineHasDevice):
        reg.register_device(consortium.sender("maker"), other, "factory-3-m1")
    with pytest.raises(InvalidRotationTime):
        reg.rotate_device(consortium.sender("maker"), "factory-3-m1", other, reg.now() - 5)
    reg.revoke_device(consortium.sender("maker"), device)
    with pytest.raises(NoCurrentDevice):
        reg.rotate_device(consortium.sender("maker"), "factory-3-m1", other)
    reg.register_device(consortium.sender("maker"), other, "factory-3-m1")

    assert [(k.device, k.status(reg.now())) for k in reg.device_keys("factory-3-m1")] == [(device, "revoked"), (other, "active")]


def test_readings_keep_counting_across_a_rotation_the_lessee_approved(leasing):
    h = leasing
    reg = h.c.registry
    lease_id = h.open(deposit=40 * UNIT)  # 2 tokens per hour
    late = h.sign(lease_id, 2 * HOUR)  # signed by the old key before the rotation, submitted after it
    new = dev_key("factory-1-m1-replacement")
    advance_time(h.ctx, 5)

    outcome = reg.rotate_device(h.c.sender(OWNER), MACHINE, new.address)
    waiting = outcome.pending
    assert waiting.kind == DeviceChangeKind.ROTATE and (waiting.device, waiting.old_device, waiting.at) == (new.address, h.c.devices[MACHINE].address, 0)
    assert reg.device_lock(MACHINE).lessee_org == LESSEE and len(reg.device_keys(MACHINE)) == 1  # not applied: the lease locks the key
    with pytest.raises(NotMachineLessee):
        reg.approve_device_change(h.c.sender("factory-2"), MACHINE, waiting.change_hash)
    with pytest.raises(NoPendingChange):
        reg.approve_device_change(h.c.sender(LESSEE), MACHINE, b"\1" * 32)
    reg.approve_device_change(h.c.sender(LESSEE), MACHINE, waiting.change_hash)
    point = reg.device(new.address).valid_from

    h.lease.report_usage(h.c.sender("agg-1"), late)
    with pytest.raises(DeviceNotValidAt):
        h.report(lease_id, 3 * HOUR)  # the old key no longer signs for times after the rotation point
    h.report(lease_id, 3 * HOUR, device=new)
    h.lease.close(h.c.sender(LESSEE), lease_id, h.sign(lease_id, 4 * HOUR, device=new))

    assert late.report.read_at < point and h.state(lease_id).charged == 8 * UNIT
    assert reg.device_lock(MACHINE) is None and reg.pending_device_change(MACHINE) is None
    events = [e.event for e in reg.device_history(MACHINE)]
    assert events[-5:] == ["DevicesLocked", "DeviceChangeRequested", "DeviceChangeApproved", "DeviceRotated", "DevicesUnlocked"]


def test_only_a_lease_contract_the_governors_trust_locks_keys(leasing):
    h = leasing
    gov = h.c.sender("gov-a")
    art = h.ctx.artifacts["MachineLease"]
    untrusted = MachineLease(h.ctx, address=gov.deploy(art.abi, art.bytecode, h.c.registry.address, h.token.address).contract_address)
    lease_id, _ = untrusted.offer(h.c.sender(OWNER), "factory-2-m1", make_tariff(h.ctx))
    h.fund("factory-2", 20 * UNIT)
    opening = untrusted.sign_usage(h.c.devices["factory-2-m1"], lease_id, "factory-2-m1", 0, stamp(h.ctx))

    with pytest.raises(NotLeaseContract):
        untrusted.accept(h.c.sender("factory-2"), lease_id, 20 * UNIT, opening)
    with pytest.raises(NotLeaseContract):
        gov.transact(h.c.registry.contract.functions.lockDevices(to_bytes32("factory-2-m1"), to_bytes32("factory-2")))

    assert h.c.registry.device_lock("factory-2-m1") is None and h.c.registry.is_lease_contract(h.lease.address)


def test_an_attestation_is_checked_against_the_machines_manufacturer(consortium, snapshot):
    reg = consortium.registry
    chain_id, device = consortium.ctx.w3.eth.chain_id, consortium.devices["factory-4-m1"].address
    good = attest(consortium.accounts["maker"], device, "factory-4-m1", chain_id, reg.address)
    by_operator = attest(consortium.accounts["factory-4"], device, "factory-4-m1", chain_id, reg.address)
    wrong_machine = attest(consortium.accounts["maker"], device, "factory-1-m1", chain_id, reg.address)

    checked = reg.check_attestation(DeviceAttestation.from_json(good.to_json()))

    assert checked.ok and checked.signer_org == "maker" and (checked.bound_machine, checked.key_status) == ("factory-4-m1", "active")
    assert "not of maker" in reg.check_attestation(by_operator).problem
    assert "bound to factory-4-m1, not to factory-1-m1" in reg.check_attestation(wrong_machine).problem
    with pytest.raises(AttestationError, match="altered"):
        reg.check_attestation(dataclasses.replace(good, machine_id="factory-1-m1"))
    with pytest.raises(AttestationError, match="not chain"):
        reg.check_attestation(dataclasses.replace(good, chain_id=chain_id + 1))
    reg.revoke_device(consortium.sender("maker"), device)
    assert reg.check_attestation(good).problem == f"device {device} was revoked"


def test_the_demo_hook_shows_maker_provisioned_attested_keys_and_refuses_an_operator(consortium, snapshot):
    from fedpm.consortium.demo import format_device_demo, run_device_demo

    summary = run_device_demo(consortium)

    assert {m: (d["boundBy"], d["attested"], d["status"]) for m, d in summary["machines"].items()} == {
        f"factory-{i}-m1": ("maker", True, "active") for i in range(1, 5)}
    assert summary["operatorBind"] == {"operator": "factory-1", "machine": "factory-1-m1", "refused": "NotManufacturer"}
    assert "refused (NotManufacturer)" in format_device_demo(summary)
