"""keccak256 Merkle tree over a batch's readings, with inclusion proofs (pure; mirrored on chain by
contracts/libraries/SensorBatches.sol, and a test checks both agree).

Construction:
- leaf  = keccak256(0x00 || reading bytes)          (canonical bytes from `encoding.encode_reading`)
- node  = keccak256(0x01 || left || right)
  The distinct prefixes separate leaves from inner nodes, so no inner node can be passed off as a reading.
- A level with an odd number of nodes promotes its last node unchanged to the next level. It is not paired
  with itself (duplication would give [a, b, c] and [a, b, c, c] the same root).
- The root of one leaf is that leaf's hash. An empty batch has no root (the contract rejects count 0).
- A proof is the list of siblings bottom-up; a level where the node is promoted contributes none. The verifier
  takes the leaf's index and the batch's leaf count (signed by the device and anchored), which fix the path,
  so a proof also proves the reading's position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ground.ids import hex0x

try:  # safe-pysha3: a C keccak, ~7x faster per call than pycryptodome's cffi one (the gateway hashes ~2 per reading)
    from sha3 import keccak_256 as _k256
except ImportError:  # pragma: no cover - same digests, slower
    from Crypto.Hash import keccak as _keccak

    def _k256(data: bytes = b"") -> "object":
        return _keccak.new(digest_bits=256, data=data)

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def keccak256(data: bytes) -> bytes:
    return _k256(data).digest()


def leaf_hash(reading: bytes) -> bytes:
    return _k256(LEAF_PREFIX + reading).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _k256(NODE_PREFIX + left + right).digest()


def leaf_hashes_of_records(records: bytes) -> list[bytes]:
    """Leaf hashes of a batch body (`encoding.encode_records`: uint16 length || reading, repeated), in order,
    without building a bytes object per reading first. Raises ValueError on a truncated body."""
    out: list[bytes] = []
    append, k, pos, end = out.append, _k256, 0, len(records)
    while pos < end:
        if pos + 2 > end:
            raise ValueError("truncated batch record")
        n = (records[pos] << 8) | records[pos + 1]
        nxt = pos + 2 + n
        if nxt > end:
            raise ValueError("truncated batch record")
        append(k(LEAF_PREFIX + records[pos + 2 : nxt]).digest())
        pos = nxt
    return out


def _next_level(level: list[bytes]) -> list[bytes]:
    k = _k256
    nxt = [k(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        nxt.append(level[-1])
    return nxt


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """All levels, leaves first, root last."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    out = [list(leaves)]
    while len(out[-1]) > 1:
        out.append(_next_level(out[-1]))
    return out


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    level = list(leaves)
    if not level:
        raise ValueError("a Merkle tree needs at least one leaf")
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_root(readings: Sequence[bytes]) -> bytes:
    """Root over encoded readings."""
    return root_of_leaves([leaf_hash(r) for r in readings])


@dataclass(frozen=True)
class Proof:
    index: int
    count: int
    siblings: tuple[bytes, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "count": self.count, "siblings": [hex0x(s) for s in self.siblings]}


def prove(readings: Sequence[bytes], index: int) -> Proof:
    """Inclusion proof of encoded reading `index` among `readings`."""
    return prove_from_levels(levels([leaf_hash(r) for r in readings]), index)


def prove_from_levels(tree: list[list[bytes]], index: int) -> Proof:
    count = len(tree[0])
    if not 0 <= index < count:
        raise IndexError(f"leaf {index} out of range 0..{count - 1}")
    siblings = []
    i = index
    for level in tree[:-1]:
        if i & 1:
            siblings.append(level[i - 1])
        elif i + 1 < len(level):
            siblings.append(level[i + 1])
        i >>= 1
    return Proof(index, count, tuple(siblings))


def root_from_proof(leaf: bytes, proof: Proof) -> bytes | None:
    """The root a proof leads to from `leaf`, or None if the proof has the wrong shape."""
    index, count = proof.index, proof.count
    if not 0 <= index < count:
        return None
    h, used, sib = leaf, 0, proof.siblings
    while count > 1:
        if index & 1:
            if used == len(sib):
                return None
            h = node_hash(sib[used], h)
            used += 1
        elif index + 1 < count:
            if used == len(sib):
                return None
            h = node_hash(h, sib[used])
            used += 1
        index >>= 1
        count = (count + 1) >> 1
    return h if used == len(sib) else None


def verify(reading: bytes, proof: Proof, root: bytes) -> bool:
    """Whether encoded `reading` is leaf `proof.index` of the `proof.count`-leaf tree with `root`."""
    return root_from_proof(leaf_hash(reading), proof) == root
