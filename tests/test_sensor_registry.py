"""SensorBatchRegistry against a real anvil: device signatures, bindings, sequence numbers, proofs, gas."""

from __future__ import annotations

import dataclasses

import pytest

from ground.ids import to_bytes32
from chain.reverts import (BadDeviceSignature, DeviceNotActive, DeviceOfAnotherMachine, EmptyBatch, InconsistentBatch, NotMember,
                           ReplayedSeq, SkippedSeq, UnknownDevice)
from fedpm.sensors.client import Anchor, SensorBatchRegistry
from fedpm.sensors.encoding import Reading, encode_reading
from fedpm.sensors.merkle import leaf_hash, merkle_root, prove
from fedpm.sensors.signing import BatchHeader, recover_signer, sign_batch
from tests.conftest import dev_key

pytestmark = pytest.mark.usefixtures("snapshot")

M1, M2 = "factory-1-m1", "factory-2-m1"


def readings(machine: str, n: int, t0: int = 1_700_000_000_000) -> list[bytes]:
    return [encode_reading(Reading(machine, "vibration", t0 + i, 0.001 * i - 0.5, "g")) for i in range(n)]


def signed(consortium, machine: str, seq: int, n: int = 8, *, device=None, t0: int = 1_700_000_000_000, **changes):
    reg = SensorBatchRegistry(consortium.ctx)
    enc = readings(machine, n, t0)
    fields = dict(machine=machine, device_seq=seq, from_time=t0, to_time=t0 + max(n - 1, 0), count=n, merkle_root=merkle_root(enc) if enc else b"\0" * 32)
    fields.update(changes)
    header = BatchHeader(**fields)
    device = device or consortium.devices[machine]
    sig = sign_batch(device, header, consortium.ctx.w3.eth.chain_id, reg.address)
    return reg, header, device.address, sig, enc


def anchor(consortium, org: str, reg: SensorBatchRegistry, header, device, sig):
    return reg.anchor_batch(consortium.sender(org), header, device, sig)


def test_python_signature_digest_matches_contract(consortium):
    reg, header, device, sig, _ = signed(consortium, M1, 0)

    assert recover_signer(header, sig, consortium.ctx.w3.eth.chain_id, reg.address) == device
    from eth_account.messages import _hash_eip191_message, encode_typed_data  # noqa: F401
    from fedpm.sensors.signing import BATCH_TYPES, domain

    signable = encode_typed_data(domain_data=domain(consortium.ctx.w3.eth.chain_id, reg.address).to_dict(), message_types=BATCH_TYPES, message_data=header.message())
    assert reg.batch_digest(header) == _hash_eip191_message(signable)


def test_member_relays_device_signed_batch_and_event_carries_the_anchor(consortium):
    reg, header, device, sig, _ = signed(consortium, M1, 0)

    rcpt = anchor(consortium, "factory-2", reg, header, device, sig)  # any member may relay

    (ev,) = reg.receipt_logs("BatchAnchored", rcpt)
    assert ev["args"]["machineId"] == to_bytes32(M1) and ev["args"]["device"] == device and ev["args"]["deviceSeq"] == 0
    assert bytes(ev["args"]["merkleRoot"]) == header.merkle_root and ev["args"]["count"] == 8
    assert reg.next_seq(device) == 1
    anchored = Anchor(M1, device, 0, header.from_time, header.to_time, 8, header.merkle_root, consortium.accounts["factory-2"].address, rcpt.block_number)
    assert reg.is_anchored(anchored)
    assert not reg.is_anchored(dataclasses.replace(anchored, block_number=rcpt.block_number + 1))


def test_non_member_cannot_submit(consortium):
    reg, header, device, sig, _ = signed(consortium, M1, 0)
    outsider = consortium.ctx.sender(dev_key("sensor-outsider"))

    with pytest.raises(NotMember):
        reg.anchor_batch(outsider, header, device, sig)


def test_signature_over_other_fields_is_rejected(consortium):
    reg, header, device, sig, _ = signed(consortium, M1, 0)
    tampered = BatchHeader(header.machine, 0, header.from_time, header.to_time, header.count + 1, header.merkle_root)

    with pytest.raises(BadDeviceSignature) as err:
        anchor(consortium, "factory-1", reg, tampered, device, sig)
    assert err.value.error_args["device"].lower() == device.lower()
    with pytest.raises(BadDeviceSignature):
        anchor(consortium, "factory-1", reg, header, device, sig[:64] + b"\x05")  # malformed v


def test_unregistered_device_is_unknown(consortium):
    stranger = dev_key("unregistered-device")
    reg, header, device, sig, _ = signed(consortium, M1, 0, device=stranger)

    with pytest.raises(UnknownDevice):
        anchor(consortium, "factory-1", reg, header, device, sig)


def test_revoked_device_is_rejected(consortium):
    device = consortium.devices[M1]
    consortium.registry.revoke_device(consortium.sender("maker"), device.address)  # its manufacturer
    reg, header, addr, sig, _ = signed(consortium, M1, 0)

    with pytest.raises(DeviceNotActive):
        anchor(consortium, "factory-1", reg, header, addr, sig)


def test_device_of_another_machine_is_rejected(consortium):
    reg, header, device, sig, _ = signed(consortium, M2, 0, device=consortium.devices[M1])

    with pytest.raises(DeviceOfAnotherMachine) as err:
        anchor(consortium, "factory-1", reg, header, device, sig)
    assert err.value.error_args["boundMachine"] == to_bytes32(M1)


def test_replayed_and_skipped_sequence_numbers_are_rejected(consortium):
    reg, h0, device, sig0, _ = signed(consortium, M1, 0)
    anchor(consortium, "factory-1", reg, h0, device, sig0)

    with pytest.raises(ReplayedSeq) as replay:
        anchor(consortium, "factory-1", reg, h0, device, sig0)
    _, h2, _, sig2, _ = signed(consortium, M1, 2)
    with pytest.raises(SkippedSeq) as skip:
        anchor(consortium, "factory-1", reg, h2, device, sig2)

    assert (replay.value.error_args["seq"], replay.value.error_args["expected"]) == (0, 1)
    assert (skip.value.error_args["seq"], skip.value.error_args["expected"]) == (2, 1)
    _, h1, _, sig1, _ = signed(consortium, M1, 1)
    anchor(consortium, "factory-1", reg, h1, device, sig1)
    assert reg.next_seq(device) == 2


def test_empty_batch_is_rejected(consortium):
    reg, header, device, sig, _ = signed(consortium, M1, 0, n=0)

    with pytest.raises(EmptyBatch):
        anchor(consortium, "factory-1", reg, header, device, sig)


@pytest.mark.parametrize("changes", [dict(from_time=10, to_time=5), dict(count=1, from_time=5, to_time=6)])
def test_count_and_times_must_agree(consortium, changes):
    reg, header, device, sig, _ = signed(consortium, M1, 0, **changes)

    with pytest.raises(InconsistentBatch):
        anchor(consortium, "factory-1", reg, header, device, sig)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 33])
def test_on_chain_proof_check_agrees_with_python(consortium, n):
    reg, header, device, sig, enc = signed(consortium, M1, 0, n=n)
    rcpt = anchor(consortium, "factory-1", reg, header, device, sig)
    anchored = Anchor(M1, device, 0, header.from_time, header.to_time, n, header.merkle_root, consortium.accounts["factory-1"].address, rcpt.block_number)

    for i in sorted({0, n // 2, n - 1}):
        proof = prove(enc, i)
        assert reg.leaf_hash(enc[i]) == leaf_hash(enc[i])
        assert reg.verify_reading(anchored, enc[i], i, proof.siblings)
        other = (i + 1) % n
        if other != i:
            assert not reg.verify_reading(anchored, enc[other], i, proof.siblings)  # wrong reading
            assert not reg.verify_reading(anchored, enc[i], other, proof.siblings)  # wrong position
    tampered = bytearray(enc[0])
    tampered[45] ^= 1
    assert not reg.verify_reading(anchored, bytes(tampered), 0, prove(enc, 0).siblings)


def test_gas_per_anchor_is_within_budget(consortium):
    reg, h0, device, sig0, _ = signed(consortium, M1, 0, n=1000)
    first = anchor(consortium, "factory-1", reg, h0, device, sig0)
    _, h1, _, sig1, _ = signed(consortium, M1, 1, n=1000, t0=1_700_000_010_000)
    steady = anchor(consortium, "factory-1", reg, h1, device, sig1)
    batches = [signed(consortium, M1, 2 + k, n=1000, t0=1_700_000_020_000 + 1000 * k) for k in range(8)]
    multi = reg.anchor_batches(consortium.sender("factory-1"), [b[1] for b in batches], [device] * 8, [b[3] for b in batches])

    print(f"gas: first={first.gas_used} steady={steady.gas_used} per-batch-in-8={multi.gas_used / 8:.0f}")
    assert steady.gas_used <= 80_000
    assert multi.gas_used / 8 < steady.gas_used
    assert reg.next_seq(device) == 10
