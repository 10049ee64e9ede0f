"""SensorBatchRegistry against a real anvil: roots of roots anchored by members, the contract's checks of single
signed blocks (signature, binding, both Merkle proofs) agreeing with Python, gas per anchor."""

from __future__ import annotations

import dataclasses

import pytest

from chain.reverts import AlreadyAnchored, EmptyAnchor, InconsistentAnchor, NotMember
from fedpm.sensors.anchoring import Anchor, AnchorRoot, anchor_root, batch_proofs
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.merkle import Proof, keccak256, levels, prove_from_levels
from fedpm.sensors.signing import block_digest
from tests.conftest import dev_key
from tests.sensor_helpers import batch_of, readings_t0, sign_blocks

pytestmark = pytest.mark.usefixtures("snapshot")

M1, M2 = "factory-1-m1", "factory-2-m1"


def setup(consortium, plan: dict[str, list[int]], device_for=None):
    """Blocks per machine (machine -> seqs), one batch per machine, one anchor over them, anchored by factory-1."""
    reg = SensorBatchRegistry(consortium.ctx)
    dom = reg.signing_domain()
    t0 = readings_t0(consortium)
    batches = [sign_blocks((device_for or {}).get(m) or consortium.devices[m], m, dom, seqs, t0=t0) for m, seqs in plan.items()]
    summaries = [batch_of(b)[0] for b in batches]
    root = anchor_root(summaries)
    rcpt = reg.anchor_root(consortium.sender("factory-1"), root)
    return reg, batches, summaries, batch_proofs(summaries), Anchor.of(root, consortium.accounts["factory-1"].address, rcpt.block_number, rcpt.tx_hash), rcpt


def block_proof(blocks, i: int) -> Proof:
    return prove_from_levels(levels([batch_of(blocks)[1][k] for k in range(len(blocks))]), i)


def test_python_block_digest_matches_the_contract(consortium):
    reg = SensorBatchRegistry(consortium.ctx)
    h = keccak256(b"a block")

    assert reg.block_digest(h) == block_digest(h, reg.signing_domain())


def test_a_member_anchors_a_root_of_roots_and_the_event_carries_the_anchor(consortium):
    reg, _, summaries, _, anchor, rcpt = setup(consortium, {M1: [0, 1, 2], M2: [0, 1]})

    (ev,) = reg.receipt_logs("RootAnchored", rcpt)
    assert bytes(ev["args"]["root"]) == anchor.root and ev["args"]["batches"] == 2 and ev["args"]["readings"] == 20
    assert reg.is_anchored(anchor) and reg.find_anchor(anchor.root) == anchor
    assert not reg.is_anchored(dataclasses.replace(anchor, block_number=anchor.block_number + 1))
    assert not reg.is_anchored(dataclasses.replace(anchor, readings=21))
    with pytest.raises(AlreadyAnchored):
        reg.anchor_root(consortium.sender("factory-2"), AnchorRoot(anchor.root, 2, 20, anchor.from_time, anchor.to_time))


def test_non_member_cannot_anchor(consortium):
    reg = SensorBatchRegistry(consortium.ctx)
    outsider = consortium.ctx.sender(dev_key("sensor-outsider"))

    with pytest.raises(NotMember):
        reg.anchor_root(outsider, AnchorRoot(keccak256(b"x"), 1, 1, 0, 0))


@pytest.mark.parametrize("root, error", [(AnchorRoot(bytes(32), 1, 1, 0, 0), EmptyAnchor), (AnchorRoot(keccak256(b"x"), 0, 1, 0, 0), EmptyAnchor),
                                         (AnchorRoot(keccak256(b"x"), 2, 1, 0, 0), EmptyAnchor), (AnchorRoot(keccak256(b"x"), 1, 1, 5, 4), InconsistentAnchor)])
def test_malformed_roots_are_refused(consortium, root, error):
    with pytest.raises(error):
        SensorBatchRegistry(consortium.ctx).anchor_root(consortium.sender("factory-1"), root)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_the_contract_proves_every_signed_block_as_python_does(consortium, n):
    reg, (blocks, others), summaries, proofs, anchor, _ = setup(consortium, {M1: list(range(n)), M2: [0, 1, 2]})

    for i in sorted({0, n // 2, n - 1}):
        b = blocks[i]
        assert reg.verify_block(anchor, summaries[0], proofs[0], b.block, b.signature, block_proof(blocks, i))
    assert reg.verify_block(anchor, summaries[1], proofs[1], others[2].block, others[2].signature, block_proof(others, 2))
    assert reg.verify_batch(anchor, summaries[1], proofs[1]) and not reg.verify_batch(anchor, summaries[1], proofs[0])


def test_the_contract_refuses_altered_foreign_misplaced_and_unanchored_blocks(consortium):
    reg, (blocks, others), summaries, proofs, anchor, _ = setup(consortium, {M1: [0, 1, 2, 3], M2: [0, 1]})
    b, p = blocks[1], block_proof(blocks, 1)
    altered = b.block[:-8] + (b.block[-8] ^ 1).to_bytes(1, "big") + b.block[-7:]

    assert reg.verify_block(anchor, summaries[0], proofs[0], b.block, b.signature, p)
    assert not reg.verify_block(anchor, summaries[0], proofs[0], altered, b.signature, p)  # a value changed
    assert not reg.verify_block(anchor, summaries[0], proofs[0], b.block, blocks[2].signature, p)  # another block's signature
    assert not reg.verify_block(anchor, summaries[0], proofs[0], b.block, b.signature, block_proof(blocks, 2))  # another position
    assert not reg.verify_block(anchor, summaries[1], proofs[1], b.block, b.signature, p)  # claimed for the other batch
    assert not reg.verify_block(dataclasses.replace(anchor, readings=anchor.readings - 1), summaries[0], proofs[0], b.block, b.signature, p)
    narrowed = dataclasses.replace(summaries[0], first_seq=2)  # the block's seq outside the batch's range
    assert not reg.verify_block(anchor, narrowed, proofs[0], b.block, b.signature, p)


def test_a_block_of_an_unbound_device_or_of_another_machine_does_not_verify(consortium):
    stranger = dev_key("unbound-device")
    reg, (blocks,), summaries, proofs, anchor, _ = setup(consortium, {M1: [0, 1]}, {M1: stranger})  # signed, anchored, but not bound
    assert not reg.verify_block(anchor, summaries[0], proofs[0], blocks[0].block, blocks[0].signature, block_proof(blocks, 0))

    reg, (blocks,), summaries, proofs, anchor, _ = setup(consortium, {M2: [5, 6]}, {M2: consortium.devices[M1]})  # M1's key signing for M2
    assert not reg.verify_block(anchor, summaries[0], proofs[0], blocks[0].block, blocks[0].signature, block_proof(blocks, 0))


def test_gas_per_anchor_is_flat_in_the_readings_it_covers(consortium):
    reg = SensorBatchRegistry(consortium.ctx)
    sender = consortium.sender("factory-1")
    gas = {}
    t0 = readings_t0(consortium)
    for k, batches in enumerate((1, 10, 100)):
        summaries = [dataclasses.replace(batch_of(sign_blocks(consortium.devices[M1], M1, reg.signing_domain(), [i], readings=1, t0=t0))[0],
                                         readings=1000, root=keccak256(bytes([k, i % 256, i // 256]))) for i in range(batches)]
        gas[batches] = reg.anchor_root(sender, anchor_root(summaries)).gas_used

    print(f"gas per anchor: {gas}; per reading at 1k/10k/100k readings: {[round(g / (1000 * b), 2) for b, g in gas.items()]}")
    assert max(gas.values()) - min(gas.values()) < 200  # calldata is the same size: the cost does not grow with batches
    assert gas[1] <= 60_000 and gas[10] / 10_000 < 6
