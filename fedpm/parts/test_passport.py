"""Passport verification over an in-memory chain: a genuine passport verifies every element; each kind of tampering
or omission fails at the element it concerns, and that element is the first failure named (pure)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import pytest
from eth_account import Account

from fedpm.maintenance.audit import ZERO_HASH, ChainEntry
from fedpm.maintenance.records import Kind
from fedpm.parts.passport import FAILED, KIND, UNCHECKED, VERIFIED, PartView, verify_passport
from fedpm.parts.records import BatchRef, MaintenanceRef, ModelRef, PartRecord
from fedpm.sensors.anchoring import Anchor, BatchSummary, anchor_root, batch_proofs
from fedpm.sensors.client import Binding
from fedpm.sensors.device import Device
from fedpm.sensors.encoding import parse_signed
from fedpm.sensors.merkle import block_leaf, keccak256, root_of_leaves
from fedpm.sensors.signing import domain

DOM = domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
KEY = Account.from_key(b"\x09" * 32)
M = "m1"
H = ["0x" + (bytes([i]) * 32).hex() for i in range(1, 5)]  # record hashes


@dataclass
class FakeChain:
    domain: object = DOM
    parts: dict = field(default_factory=dict)
    anchors: set = field(default_factory=set)
    bindings: dict = field(default_factory=dict)
    revocations: dict = field(default_factory=dict)  # device -> block revoked in
    entries: list = field(default_factory=list)
    models: dict = field(default_factory=dict)

    def part(self, part):
        return self.parts.get(part)

    def is_anchored(self, anchor):
        return anchor in self.anchors

    def binding(self, device):
        return self.bindings.get(device, Binding(device, None, False))

    def revoked_before(self, device, block):
        return device in self.revocations and self.revocations[device] <= block

    def maintenance_entries(self, machine):
        return list(self.entries)

    def model_hash(self, task, round_number):
        return self.models.get((task, round_number))


def entry(index: int, time: int, prev: str) -> ChainEntry:
    return ChainEntry(index, H[index], prev, None, Kind.MAINTENANCE, time, "0xtech", "factory-1")


def world(batches_seqs=((0, 1, 2), (3, 4))):
    """A chain and a genuine passport: the device's blocks in batches under one anchor, a maintenance history of two
    entries (at 0.5 s and 5 s: the part starts at 1.7e12 ms, so both precede it), a finalized model."""
    device = Device.of(M, KEY, DOM)
    t0 = 1_700_000_000_000
    batches, items = [], []
    for seqs in batches_seqs:
        blocks = [parse_signed(device.sign("vibration", "g", [t0 + 10 * s, t0 + 10 * s + 5], [0.1 * s, 0.2 * s])[1]) for s in seqs]  # the device's seqs 0, 1, ...
        leaves = [block_leaf(keccak256(b.block), b.signature) for b in blocks]
        batches.append((BatchSummary(M, KEY.address, blocks[0].seq, blocks[-1].seq, len(blocks), 2 * len(blocks), min(b.min_ts for b in blocks),
                                     max(b.max_ts for b in blocks), root_of_leaves(leaves)), blocks))
    summaries = [s for s, _ in batches]
    root = anchor_root(summaries)
    anchor = Anchor.of(root, "0xgateway", 42, "0xtx")
    for (s, blocks), proof in zip(batches, batch_proofs(summaries)):
        items.append({"proof": proof.to_json(), "anchor": anchor.to_json(), "blocks": ["0x" + b.signed.hex() for b in blocks]})
    rec = PartRecord("P-1", M, "milling", t0, summaries[-1].to_time, tuple(BatchRef(s, root.root) for s in summaries), MaintenanceRef(H[1], 1),
                     ModelRef(0, 3, H[3], 90.0))
    chain = FakeChain(parts={"P-1": PartView("P-1", M, rec.hash, "0xoperator", 99)}, anchors={anchor}, bindings={KEY.address: Binding(KEY.address, M, True)},
                      entries=[entry(0, 500, ZERO_HASH), entry(1, 5000, H[0])], models={(0, 3): H[3]})
    return chain, {"kind": KIND, "v": 1, "record": rec.to_json(), "batches": items}


def statuses(check) -> list[tuple[str, str]]:
    return [(e.name.split(" (")[0], e.status) for e in check.elements]


def test_a_genuine_passport_verifies_every_element():
    chain, passport = world()

    check = verify_passport(passport, chain)

    assert check.ok and check.first_failure is None
    assert statuses(check) == [("record", VERIFIED), ("batch 0", VERIFIED), ("batch 1", VERIFIED), ("coverage", VERIFIED), ("maintenance", VERIFIED), ("model", VERIFIED)]


def first(passport, chain) -> tuple[str, str]:
    f = verify_passport(passport, chain).first_failure
    return f.name.split(" (")[0], f.detail


def test_an_altered_record_fails_at_the_record():
    chain, passport = world()
    passport["record"]["step"] = "grinding"

    assert first(passport, chain)[0] == "record" and "altered" in first(passport, chain)[1]
    chain2, passport2 = world()
    del chain2.parts["P-1"]
    assert first(passport2, chain2) == ("record", "no part P-1 is recorded on chain")
    assert first({"kind": "something else"}, chain2)[0] == "record"


def test_a_batch_that_is_not_anchored_fails_at_that_batch():
    chain, passport = world()
    chain.anchors.clear()
    assert first(passport, chain) == ("batch 0", "not anchored: no root of roots on chain holds this batch")

    chain, passport = world()
    passport["batches"][1]["proof"] = None  # the operator referenced a batch that was never anchored
    assert first(passport, chain) == ("batch 1", "not anchored: the passport has no anchor for it")


def test_an_altered_or_missing_block_fails_at_its_batch():
    chain, passport = world()
    raw = bytearray(bytes.fromhex(passport["batches"][1]["blocks"][0][2:]))
    raw[-66] ^= 1  # the last value byte, before the signature
    passport["batches"][1]["blocks"][0] = "0x" + raw.hex()
    assert first(passport, chain) == ("batch 1", f"block 0 (seq 3) is not signed by device {KEY.address}")

    chain, passport = world()
    passport["batches"][0]["blocks"].pop(1)
    assert first(passport, chain)[0] == "batch 0" and "do not run seq 0..2" in first(passport, chain)[1]

    chain, passport = world()
    for item in passport["batches"]:
        item.pop("blocks")
    check = verify_passport(passport, chain)
    assert not check.ok and [s for _, s in statuses(check)[1:3]] == [UNCHECKED, UNCHECKED]


def test_an_unbound_or_earlier_revoked_device_fails():
    chain, passport = world()
    chain.bindings[KEY.address] = Binding(KEY.address, "m2", True)
    assert first(passport, chain)[0] == "batch 0"
    chain.bindings[KEY.address] = Binding(KEY.address, M, False)
    chain.revocations[KEY.address] = 50  # revoked after the anchor (block 42): the data still counts
    assert verify_passport(passport, chain).ok
    chain.revocations[KEY.address] = 40
    assert first(passport, chain) == ("batch 0", f"device {KEY.address} of {M} is revoked")


def test_missing_blocks_between_batches_fail_the_coverage():
    chain, passport = world(((0, 1, 2), (3, 4)))
    rec = PartRecord.from_json(passport["record"])
    second = rec.batches[1]
    skipped = dataclasses.replace(second.summary, first_seq=5, last_seq=6)  # as if blocks 3..4 never arrived
    passport["record"] = dataclasses.replace(rec, batches=(rec.batches[0], BatchRef(skipped, second.anchor_root))).to_json()
    chain.parts["P-1"] = PartView("P-1", M, PartRecord.from_json(passport["record"]).hash, "0xoperator", 99)

    check = verify_passport(passport, chain)

    assert dict(statuses(check))["coverage"] == FAILED and f"device {KEY.address} seq 3..4 missing" in [e.detail for e in check.elements if e.name == "coverage"]


@pytest.mark.parametrize("case", ["later entry", "none named", "broken link"])
def test_the_maintenance_state_must_be_the_latest_at_the_start_on_an_intact_history(case):
    chain, passport = world()
    if case == "later entry":
        chain.entries.append(entry(2, 6000, H[1]))  # another entry, still before the part: the record names an older one
    elif case == "none named":
        rec = PartRecord.from_json(passport["record"])
        passport["record"] = dataclasses.replace(rec, maintenance=None).to_json()
        chain.parts["P-1"] = PartView("P-1", M, PartRecord.from_json(passport["record"]).hash, "0xoperator", 99)
    else:
        chain.entries[1] = entry(1, 5000, ZERO_HASH)

    assert first(passport, chain)[0] == "maintenance"
    chain.entries = chain.entries[:2] if case == "later entry" else chain.entries
    if case == "later entry":
        chain.entries.append(entry(2, 1_800_000_000, H[1]))  # after the part started: does not count
        assert verify_passport(passport, chain).ok


def test_a_model_the_chain_did_not_finalize_fails():
    chain, passport = world()
    chain.models[(0, 3)] = H[2]

    assert first(passport, chain)[0] == "model"
    del chain.models[(0, 3)]
    assert "finalized nothing" in first(passport, chain)[1]


def test_batch_proofs_missing_from_the_passport_fail():
    chain, passport = world()
    passport["batches"] = passport["batches"][:1]
    assert first(passport, chain) == ("batches", "the passport carries 1 batch proofs for 2 referenced batches")
    passport = copy.deepcopy(world()[1])
    passport["batches"][0]["anchor"] = {"root": "0x12"}
    assert first(passport, world()[0]) == ("batch 0", "its proof or anchor is malformed in the passport")
