"""Pure tests of device-key views, the history fold, the device table and attestations (no chain)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_utils import keccak

from fedpm.consortium.attestation import AttestationError, DeviceAttestation, attest, judge, recover_signer
from fedpm.consortium.devices import DeviceEvent, DeviceView, change_view, format_devices, key_records
from ground.ids import to_bytes32

MAKER = Account.from_key(keccak(text="unit-maker"))
REGISTRY = "0x" + "11" * 20
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def _event(name: str, device: str | None, tx: str, block: int, by: str | None = "0xMAKER", **kw: object) -> DeviceEvent:
    fields = {"old_device": None, "at": None, "lessee_org": None, "change_hash": None, "change": None, **kw}
    return DeviceEvent(name, "m1", device, by=by, tx=tx, block=block, time=1000 + block, **fields)


def test_a_key_is_valid_in_its_window_and_named_by_its_status():
    rotated_out = DeviceView(A, "m1", False, 100, 200, False)
    scheduled = DeviceView(B, "m1", False, 200, 0, False)

    assert [rotated_out.valid_at(t) for t in (99, 100, 199, 200)] == [False, True, True, False]
    assert [scheduled.valid_at(t) for t in (199, 200, 10**9)] == [False, True, True]
    assert (rotated_out.status(150), rotated_out.status(200), scheduled.status(150), scheduled.status(250)) == ("active", "retired", "scheduled", "active")
    assert dataclasses.replace(scheduled, revoked=True).status(250) == "revoked" and not dataclasses.replace(scheduled, revoked=True).valid_at(250)


def test_history_names_who_bound_rotated_and_revoked_each_key_and_the_approving_lessee():
    history = [_event("DeviceBound", A, "0x01", 1, at=100),
               _event("DevicesLocked", None, "0x02", 2, by="0xLEASE", lessee_org="factory-1"),
               _event("DeviceChangeRequested", B, "0x03", 3, change="rotate"),
               _event("DeviceChangeApproved", None, "0x04", 4, by="0xLESSEE"),
               _event("DeviceRotated", B, "0x04", 4, old_device=A, at=200),
               _event("DeviceRevoked", A, "0x05", 5)]
    keys = [DeviceView(A, "m1", False, 100, 200, True), DeviceView(B, "m1", True, 200, 0, False)]

    a, b = key_records(keys, history)

    assert (a.bound.tx, a.bound.approved_by, a.rotated_in, a.revoked.tx, a.revoked.approved_by) == ("0x01", None, False, "0x05", None)
    assert (b.bound.tx, b.bound.by, b.bound.approved_by, b.rotated_in, b.revoked) == ("0x04", "0xMAKER", "0xLESSEE", True, None)
    table = format_devices([a, b], 300, {"0xMAKER": "maker", "0xLESSEE": "factory-1"}.get).splitlines()
    assert table[0].split() == ["MACHINE", "DEVICE", "STATUS", "VALID", "FROM", "VALID", "UNTIL", "BOUND", "BY"]
    assert table[1].split()[:3] == ["m1", A, "revoked"] and table[1].endswith("maker")
    assert table[2].split()[:3] == ["m1", B, "active"] and table[2].endswith("maker (approved by factory-1)")


def test_no_waiting_change_is_none():
    assert change_view("m1", (0, "0x" + "00" * 20, "0x" + "00" * 20, 0, "0x" + "00" * 20), b"\0" * 32) is None
    view = change_view("m1", (1, B, A, 0, MAKER.address), b"\1" * 32)
    assert view.describe() == f"rotate {A} -> {B} at approval"


def test_an_attestation_round_trips_and_names_its_signer():
    att = attest(MAKER, A, "m1", 31337, REGISTRY)

    again = DeviceAttestation.from_json(att.to_json())

    assert again == att and recover_signer(again, chain_id=31337, registry=REGISTRY) == MAKER.address
    assert att.message()["machineId"] == to_bytes32("m1")


@pytest.mark.parametrize("change,match", [
    ({"machine_id": "m2"}, "claims signer"),
    ({"device": B}, "claims signer"),
    ({"signature": b"\0" * 65}, "signature is invalid"),
    ({"chain_id": 1}, "not chain 31337"),
    ({"registry": "0x" + "22" * 20}, "not chain 31337"),
])
def test_a_tampered_attestation_does_not_verify(change, match):
    att = dataclasses.replace(attest(MAKER, A, "m1", 31337, REGISTRY), **change)

    with pytest.raises(AttestationError, match=match):
        recover_signer(att, chain_id=31337, registry=REGISTRY)


def test_a_malformed_attestation_file_is_one_error_naming_the_fix():
    with pytest.raises(AttestationError, match="malformed") as err:
        DeviceAttestation.from_json('{"device": "0x12"}')
    assert "fedpm device attest" in err.value.hint


def test_the_verdict_names_the_first_problem():
    att = attest(MAKER, A, "m1", 31337, REGISTRY)

    assert judge(att, "maker", "maker", "m1", "active").ok
    assert judge(att, "maker", "maker", None, None).ok  # attested before the bind
    assert judge(att, "maker", None, None, None).problem == "machine m1 is not registered"
    assert "not of maker, the manufacturer of m1" in judge(att, "factory-1", "maker", "m1", "active").problem
    assert "no member org" in judge(att, None, "maker", "m1", "active").problem
    assert judge(att, "maker", "maker", "m2", "active").problem == f"device {att.device} is bound to m2, not to m1"
    assert judge(att, "maker", "maker", "m1", "revoked").problem == f"device {att.device} was revoked"
