"""What a gateway anchors: one root over all its batches of an interval (a root of roots), each batch still provable
(pure; mirrored by contracts/libraries/SensorBatches.sol, and tests check both agree).

- A *batch* is one device's signed blocks of one interval, in sequence order, under their Merkle root
  (`merkle.block_leaf` leaves). Its `BatchSummary` names the machine, the device, the block sequence range, how many
  blocks and readings, the time span and that root.
- A batch's leaf in the anchor tree is keccak256(0x02 || abi.encode(BatchSummary)): the ABI encoding of the
  contract's `BatchSummary` struct (nine 32-byte words), prefix 0x02 apart from block leaves (0x00) and nodes (0x01).
- An `AnchorRoot` is the Merkle root over the interval's batch leaves (in the order given) with the totals the
  contract checks; the chain keeps keccak256 of the full `Anchor` (the root plus who anchored it and in which block).

Chain load then grows with gateways and their anchoring interval, not with readings: one anchor of a few dozen
thousand gas covers every batch of the interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from fedpm.sensors.merkle import Proof, keccak256, levels, prove_from_levels, root_from_proof, root_of_leaves
from ground.ids import from_bytes32, hex0x, to_bytes32

SUMMARY_PREFIX = b"\x02"


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _bytes32(text: str) -> bytes:
    raw = bytes.fromhex(text[2:] if text.startswith("0x") else text)
    if len(raw) != 32:
        raise ValueError(f"{text!r} is not 32 bytes of hex")
    return raw


@dataclass(frozen=True)
class BatchSummary:
    """One device's blocks `first_seq..last_seq` (`blocks` of them) under Merkle root `root`."""

    machine: str
    device: str
    first_seq: int
    last_seq: int
    blocks: int
    readings: int
    from_time: int  # ms, earliest reading
    to_time: int  # ms, latest reading
    root: bytes

    def encode(self) -> bytes:
        """abi.encode(BatchSummary) as the contract computes it."""
        return (to_bytes32(self.machine) + bytes(12) + bytes.fromhex(self.device[2:]) + _word(self.first_seq) + _word(self.last_seq)
                + _word(self.blocks) + _word(self.readings) + _word(self.from_time) + _word(self.to_time) + bytes(self.root))

    def leaf(self) -> bytes:
        return keccak256(SUMMARY_PREFIX + self.encode())

    @property
    def gap_free(self) -> bool:
        """Whether the batch holds every seq of its range (no block of the range was lost before the gateway)."""
        return self.last_seq - self.first_seq + 1 == self.blocks

    def to_chain(self) -> tuple:
        return (to_bytes32(self.machine), self.device, self.first_seq, self.last_seq, self.blocks, self.readings, self.from_time, self.to_time, bytes(self.root))

    def to_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "device": self.device, "first_seq": self.first_seq, "last_seq": self.last_seq, "blocks": self.blocks,
                "readings": self.readings, "from_ms": self.from_time, "to_ms": self.to_time, "root": hex0x(self.root)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "BatchSummary":
        """Strict: raises ValueError/KeyError/TypeError on a malformed summary."""
        ints = [d[k] for k in ("first_seq", "last_seq", "blocks", "readings", "from_ms", "to_ms")]
        if not all(type(v) is int and v >= 0 for v in ints) or not isinstance(d["machine"], str) or not isinstance(d["device"], str):
            raise ValueError("batch summary fields have the wrong types")
        if len(bytes.fromhex(d["device"][2:])) != 20:
            raise ValueError("device is not an address")
        return cls(d["machine"], d["device"], *ints, _bytes32(d["root"]))


@dataclass(frozen=True)
class AnchorRoot:
    """What a gateway sends: the root over its batches and the totals the contract checks."""

    root: bytes
    batches: int
    readings: int
    from_time: int
    to_time: int

    def to_chain(self) -> tuple:
        return (bytes(self.root), self.batches, self.readings, self.from_time, self.to_time)


@dataclass(frozen=True)
class Anchor:
    """An anchored root: what the chain holds keccak256(abi.encode(...)) of, under the root (the contract's `Anchor`)."""

    root: bytes
    batches: int
    readings: int
    from_time: int
    to_time: int
    submitter: str
    block_number: int
    tx_hash: str = ""

    @classmethod
    def of(cls, root: AnchorRoot, submitter: str, block_number: int, tx_hash: str = "") -> "Anchor":
        return cls(root.root, root.batches, root.readings, root.from_time, root.to_time, submitter, block_number, tx_hash)

    def to_chain(self) -> tuple:
        return (bytes(self.root), self.batches, self.readings, self.from_time, self.to_time, self.submitter, self.block_number)

    def to_json(self) -> dict[str, Any]:
        return {"root": hex0x(self.root), "batches": self.batches, "readings": self.readings, "from_ms": self.from_time, "to_ms": self.to_time,
                "submitter": self.submitter, "block": self.block_number, "tx": self.tx_hash}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Anchor":
        ints = [d[k] for k in ("batches", "readings", "from_ms", "to_ms")]
        if not all(type(v) is int and v >= 0 for v in [*ints, d["block"]]):
            raise ValueError("anchor fields have the wrong types")
        return cls(_bytes32(d["root"]), *ints, str(d["submitter"]), d["block"], str(d.get("tx") or ""))


def anchor_root(summaries: Sequence[BatchSummary]) -> AnchorRoot:
    """The root of roots over `summaries` (in order) and its totals."""
    if not summaries:
        raise ValueError("an anchor needs at least one batch")
    return AnchorRoot(root_of_leaves([s.leaf() for s in summaries]), len(summaries), sum(s.readings for s in summaries),
                      min(s.from_time for s in summaries), max(s.to_time for s in summaries))


def batch_proofs(summaries: Sequence[BatchSummary]) -> list[Proof]:
    """Each batch's inclusion proof in the anchor tree over `summaries`."""
    tree = levels([s.leaf() for s in summaries])
    return [prove_from_levels(tree, i) for i in range(len(summaries))]


def batch_in_anchor(summary: BatchSummary, proof: Proof, anchor: Anchor | AnchorRoot) -> bool:
    """Whether `summary` is leaf `proof.index` of the anchor's tree (its root and batch count)."""
    return proof.count == anchor.batches and root_from_proof(summary.leaf(), proof) == anchor.root


def summary_from_chain(raw: Sequence[Any]) -> BatchSummary:
    machine, device, first, last, blocks, readings, t0, t1, root = raw
    return BatchSummary(from_bytes32(machine), device, first, last, blocks, readings, t0, t1, bytes(root))
