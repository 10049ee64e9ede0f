"""Roots of roots: a batch summary's bytes are the contract's ABI encoding, every batch is provable in its anchor,
and any change to a batch, its position or the anchor's count fails (pure)."""

from __future__ import annotations

import dataclasses

import pytest
from eth_abi import encode
from hypothesis import given, strategies as st

from fedpm.sensors.anchoring import Anchor, AnchorRoot, BatchSummary, anchor_root, batch_in_anchor, batch_proofs
from fedpm.sensors.merkle import Proof, keccak256, node_hash
from ground.ids import to_bytes32

DEV = "0x" + "12" * 20


def summary(i: int, machine: str = "factory-1-m1", readings: int = 1000) -> BatchSummary:
    return BatchSummary(machine, DEV, 10 * i, 10 * i + 9, 10, readings, 1_700_000_000_000 + i, 1_700_000_000_500 + i, keccak256(bytes([i])))


def test_a_summary_encodes_as_the_contract_struct_and_its_leaf_has_its_own_prefix():
    s = summary(3)
    abi = encode(["(bytes32,address,uint64,uint64,uint32,uint64,uint64,uint64,bytes32)"], [s.to_chain()])

    assert s.encode() == abi and len(abi) == 9 * 32
    assert s.leaf() == keccak256(b"\x02" + abi)
    assert s.leaf() != keccak256(b"\x00" + abi)


def test_the_anchor_root_is_the_tree_over_the_batch_leaves_with_totals():
    a, b, c = summary(0), summary(1, readings=7), summary(2, "factory-2-m1")

    root = anchor_root([a, b, c])

    assert root == AnchorRoot(node_hash(node_hash(a.leaf(), b.leaf()), c.leaf()), 3, 2007, a.from_time, c.to_time)
    assert anchor_root([a]).root == a.leaf()
    with pytest.raises(ValueError):
        anchor_root([])


@given(st.integers(1, 40), st.data())
def test_every_batch_is_provable_and_nothing_else_is(n, data):
    summaries = [summary(i) for i in range(n)]
    root = anchor_root(summaries)
    anchor = Anchor.of(root, "0x" + "34" * 20, 99)
    proofs = batch_proofs(summaries)

    assert all(batch_in_anchor(s, p, anchor) for s, p in zip(summaries, proofs))
    i = data.draw(st.integers(0, n - 1))
    altered = dataclasses.replace(summaries[i], readings=summaries[i].readings + 1)
    assert not batch_in_anchor(altered, proofs[i], anchor)
    assert not batch_in_anchor(summaries[i], Proof(proofs[i].index, n + 1, proofs[i].siblings), anchor)  # the count is the anchor's
    if n > 1:
        j = (i + 1) % n
        assert not batch_in_anchor(summaries[i], Proof(j, n, proofs[i].siblings), anchor)  # another position


def test_gap_free_says_whether_the_batch_holds_every_seq_of_its_range():
    assert summary(0).gap_free
    assert not dataclasses.replace(summary(0), blocks=9).gap_free


def test_json_round_trips_and_malformed_json_is_refused():
    s = summary(5)
    a = Anchor(keccak256(b"r"), 2, 2000, 1, 2, "0x" + "34" * 20, 7, "0xabc")

    assert BatchSummary.from_json(s.to_json()) == s
    assert Anchor.from_json(a.to_json()) == a
    for bad in ({**s.to_json(), "blocks": "10"}, {**s.to_json(), "root": "0x12"}, {**s.to_json(), "device": "0x12"}, {**s.to_json(), "first_seq": -1},
                {k: v for k, v in s.to_json().items() if k != "machine"}):
        with pytest.raises((ValueError, KeyError, TypeError)):
            BatchSummary.from_json(bad)
    with pytest.raises((ValueError, KeyError, TypeError)):
        Anchor.from_json({**a.to_json(), "block": "7"})
    assert to_bytes32(s.machine) == s.encode()[:32]
