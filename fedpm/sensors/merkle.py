"""keccak256 Merkle trees with inclusion proofs (pure; mirrored on chain by contracts/libraries/SensorBatches.sol,
and tests check both agree). Two trees use it: a batch's tree over its signed blocks, and an anchor's tree over
its batches (a root of roots, `fedpm.sensors.anchoring`).

Construction:
- leaf  = keccak256(0x00 || data)            a signed block's data is blockHash || signature (`block_leaf`)
- node  = keccak256(0x01 || left || right)
  The distinct prefixes separate leaves from inner nodes, so no inner node can be passed off as a block (a batch
  summary leaf of the anchor tree has its own prefix, 0x02).
- A level with an odd number of nodes promotes its last node unchanged to the next level. It is not paired
  with itself (duplication would give [a, b, c] and [a, b, c, c] the same root).
- The root of one leaf is that leaf's hash. An empty tree has no root (the contract rejects it).
- A proof is the list of siblings bottom-up; a level where the node is promoted contributes none. The verifier
  takes the leaf's index and the tree's leaf count (anchored with the root), which fix the path, so a proof also
  proves the leaf's position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ground.ids import hex0x

try:  # safe-pysha3: a C keccak, ~7x faster per call than pycryptodome's cffi one (the gateway hashes every block)
    from sha3 import keccak_256 as _k256
except ImportError:  # pragma: no cover - same digests, slower
    from Crypto.Hash import keccak as _keccak

    def _k256(data: bytes = b"") -> "object":
        return _keccak.new(digest_bits=256, data=data)

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def keccak256(data: bytes) -> bytes:
    return _k256(data).digest()


def leaf_hash(data: bytes) -> bytes:
    return _k256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _k256(NODE_PREFIX + left + right).digest()


def block_leaf(block_hash: bytes, signature: bytes) -> bytes:
    """The leaf of a signed block: it commits to the block (its keccak256) and to the device's signature."""
    return _k256(LEAF_PREFIX + block_hash + signature).digest()


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


def merkle_root(items: Sequence[bytes]) -> bytes:
    """Root over leaf data items."""
    return root_of_leaves([leaf_hash(r) for r in items])


@dataclass(frozen=True)
class Proof:
    index: int
    count: int
    siblings: tuple[bytes, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "count": self.count, "siblings": [hex0x(s) for s in self.siblings]}

    @classmethod
    def from_json(cls, data: dict) -> "Proof":
        return cls(int(data["index"]), int(data["count"]), tuple(bytes.fromhex(s[2:]) for s in data["siblings"]))


def prove(items: Sequence[bytes], index: int) -> Proof:
    """Inclusion proof of leaf data `index` among `items`."""
    return prove_from_levels(levels([leaf_hash(r) for r in items]), index)


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


def verify(item: bytes, proof: Proof, root: bytes) -> bool:
    """Whether leaf data `item` is leaf `proof.index` of the `proof.count`-leaf tree with `root`."""
    return root_from_proof(leaf_hash(item), proof) == root
