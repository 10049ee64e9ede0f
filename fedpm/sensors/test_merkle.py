"""The Merkle construction: proofs of every leaf verify, tampering of any kind fails (pure)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from fedpm.sensors.merkle import Proof, keccak256, leaf_hash, merkle_root, node_hash, prove, verify

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


@given(batches)
def test_leaf_hashes_of_a_batch_body_equal_leaf_hash_per_reading(readings):
    from fedpm.sensors.encoding import encode_records
    from fedpm.sensors.merkle import leaf_hashes_of_records

    assert leaf_hashes_of_records(encode_records(readings)) == [leaf_hash(r) for r in readings]
