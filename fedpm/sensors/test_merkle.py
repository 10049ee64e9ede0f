"""The Merkle construction: proofs of every leaf verify, tampering of any kind fails (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from fedpm.sensors.merkle import Proof, block_leaf, keccak256, leaf_hash, levels, merkle_root, node_hash, prove, root_from_proof, root_of_leaves, verify

batches = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=40)


def test_construction_matches_the_docstring():
    a, b, c = b"a", b"b", b"c"
    la, lb, lc = (keccak256(b"\x00" + x) for x in (a, b, c))

    assert merkle_root([a]) == la
    assert merkle_root([a, b]) == keccak256(b"\x01" + la + lb)
    assert merkle_root([a, b, c]) == node_hash(node_hash(la, lb), lc)  # odd node promoted, not duplicated
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])


@given(batches)
def test_every_leaf_proof_verifies(readings):
    root = merkle_root(readings)

    for i, r in enumerate(readings):
        assert verify(r, prove(readings, i), root)


@given(batches, st.data())
def test_tampered_reading_fails(readings, data):
    i = data.draw(st.integers(0, len(readings) - 1))
    tampered = data.draw(st.binary(min_size=1, max_size=40).filter(lambda x: x != readings[i]))

    assert not verify(tampered, prove(readings, i), merkle_root(readings))


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=2, max_size=40, unique=True), st.data())
def test_tampered_proof_fails(readings, data):
    i = data.draw(st.integers(0, len(readings) - 1))
    root, p = merkle_root(readings), prove(readings, i)
    k = data.draw(st.integers(0, len(p.siblings) - 1))
    flipped = bytearray(p.siblings[k])
    flipped[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
    j = (i + data.draw(st.integers(1, len(readings) - 1))) % len(readings)

    assert not verify(readings[i], Proof(i, p.count, p.siblings[:k] + (bytes(flipped),) + p.siblings[k + 1 :]), root)
    assert not verify(readings[i], Proof(i, p.count, p.siblings[:-1]), root)  # truncated
    assert not verify(readings[i], Proof(i, p.count, p.siblings + (b"\0" * 32,)), root)  # extended
    assert not verify(readings[i], Proof(j, p.count, p.siblings), root)  # claimed at another position


def test_inner_node_is_not_a_leaf():
    a, b = b"a", b"b"
    inner = node_hash(leaf_hash(a), leaf_hash(b))

    assert leaf_hash(b"\x01" + leaf_hash(a) + leaf_hash(b)) != inner  # domain separation


def test_keccak_is_ethereum_keccak256_whichever_backend():
    from Crypto.Hash import keccak as pycryptodome_keccak

    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"fedpm") == pycryptodome_keccak.new(digest_bits=256, data=b"fedpm").digest()


def test_a_block_leaf_commits_to_the_block_hash_and_the_signature():
    h, sig = keccak256(b"block"), bytes(range(65))

    assert block_leaf(h, sig) == keccak256(b"\x00" + h + sig) == leaf_hash(h + sig)
    assert block_leaf(h, sig[:64] + b"\x1c") != block_leaf(h, sig)


# --- exact trees, proofs of every shape, batch bodies, the fallback backend (kill merkle.py's mutants) ---

def test_levels_and_proofs_of_three_leaves_exactly():
    la, lb, lc = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    ab = node_hash(la, lb)
    assert levels([la, lb, lc]) == [[la, lb, lc], [ab, lc], [node_hash(ab, lc)]]
    assert levels([la]) == [[la]] and root_of_leaves([la]) == la and root_of_leaves([la, lb]) == ab
    assert prove([b"a", b"b", b"c"], 0) == Proof(0, 3, (lb, lc))
    assert prove([b"a", b"b", b"c"], 1) == Proof(1, 3, (la, lc))
    assert prove([b"a", b"b", b"c"], 2) == Proof(2, 3, (ab,))  # the promoted node has no sibling on level 0
    assert prove([b"a", b"b", b"c"], 2).to_json() == {"index": 2, "count": 3, "siblings": ["0x" + ab.hex()]}
    assert Proof.from_json(prove([b"a", b"b", b"c"], 0).to_json()) == Proof(0, 3, (lb, lc))
    assert root_from_proof(lc, Proof(2, 3, (ab,))) == node_hash(ab, lc)
    assert len({Proof(0, 1, ()), Proof(0, 1, ())}) == 1  # a value: frozen and hashable


def test_five_leaves_promote_an_odd_node_twice():
    readings = [bytes([i]) for i in range(5)]
    ls = [leaf_hash(r) for r in readings]
    n01, n23 = node_hash(ls[0], ls[1]), node_hash(ls[2], ls[3])
    assert merkle_root(readings) == node_hash(node_hash(n01, n23), ls[4])
    assert prove(readings, 4) == Proof(4, 5, (node_hash(n01, n23),))
    assert prove(readings, 3) == Proof(3, 5, (ls[2], n01, ls[4]))
    assert all(verify(r, prove(readings, i), merkle_root(readings)) for i, r in enumerate(readings))


@pytest.mark.parametrize("index", [-1, 3])
def test_proving_outside_the_tree_is_refused(index):
    with pytest.raises(IndexError, match=rf"leaf {index} out of range 0..2"):
        prove([b"a", b"b", b"c"], index)


def test_an_empty_tree_is_refused():
    for build in (levels, root_of_leaves, merkle_root):
        with pytest.raises(ValueError, match="a Merkle tree needs at least one leaf"):
            build([])


def test_proofs_of_the_wrong_shape_lead_nowhere():
    la, lb = leaf_hash(b"a"), leaf_hash(b"b")
    assert root_from_proof(la, Proof(0, 1, ())) == la
    for proof in (Proof(0, 0, ()), Proof(1, 1, ()), Proof(-1, 2, (lb,)), Proof(2, 2, (lb,)), Proof(0, 1, (lb,)),
                  Proof(0, 2, ()), Proof(1, 2, ()), Proof(0, 2, (lb, lb))):
        assert root_from_proof(la, proof) is None, proof
    assert root_from_proof(lb, Proof(1, 2, (la,))) == node_hash(la, lb)


def test_the_fallback_keccak_backend_gives_the_same_digests(monkeypatch):
    import importlib.util
    import sys

    from fedpm.sensors import merkle

    monkeypatch.setitem(sys.modules, "sha3", None)  # as if safe-pysha3 were not installed
    spec = importlib.util.spec_from_file_location("merkle_without_sha3", merkle.__file__)
    fallback = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, fallback)  # dataclasses look their module up there
    spec.loader.exec_module(fallback)
    assert fallback._k256 is not merkle._k256
    assert fallback.keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert fallback.merkle_root([b"a", b"b", b"c"]) == merkle_root([b"a", b"b", b"c"])
    assert fallback._k256().digest() == keccak256(b"")
