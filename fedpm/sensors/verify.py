"""Checking sensor data against the chain: whole stored batches, and single readings by a self-contained proof.

A reading verifies when both hold:
- origin: the block holding it carries a signature its device made over exactly these bytes, and the device is
  bound to the block's machine (ConsortiumRegistry; a revocation counts only from its block on);
- inclusion: the signed block is a leaf of its batch's Merkle root, and the batch is a leaf of a root of roots the
  chain holds (`SensorBatchRegistry.isAnchored`; `verifyBlock` checks all of it in one view).
A gateway (or anyone between device and chain) can drop or delay blocks, never make one that verifies: altering a
value breaks the device's signature, injecting a block needs the device's key, and a replayed block shows as a
(device, seq) anchored twice when batches are checked together (`check_batches`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from chain.eip712 import Domain
from fedpm.sensors.anchoring import Anchor, BatchSummary, batch_in_anchor, batch_proofs
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.encoding import EncodingError, SignedBlock, iter_frames, parse_signed
from fedpm.sensors.merkle import Proof, block_leaf, keccak256, levels, prove_from_levels, root_from_proof, root_of_leaves
from fedpm.sensors.signing import recover_signer
from fedpm.sensors.store import GatewayStore, StoredBatch
from ground.errors import FedpmError
from ground.ids import hex0x


class VerificationFailed(FedpmError):
    """Sensor data does not match what its device signed or what was anchored on chain."""

    exit_code = 2


@dataclass(frozen=True)
class BatchCheck:
    machine: str
    device: str
    first_seq: int
    last_seq: int
    count: int
    status: str  # ok | corrupt | forged | out-of-sequence | tampered | root-mismatch | unbound | replayed | unanchored | not-on-chain
    positions: list[int] = field(default_factory=list)  # block positions in the batch that fail
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return {"machine": self.machine, "device": self.device, "first_seq": self.first_seq, "last_seq": self.last_seq, "count": self.count,
                "status": self.status, "positions": self.positions, "detail": self.detail}


@dataclass
class Checker:
    """What a check reads: the chain's anchors and bindings, the signing domain; caches each anchor's batch proofs."""

    registry: SensorBatchRegistry
    bindings: DeviceBindings
    domain: Domain
    _proofs: dict[tuple[str, int], tuple[list[BatchSummary], list[Proof]]] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: SensorBatchRegistry, bindings: DeviceBindings) -> "Checker":
        return cls(registry, bindings, registry.signing_domain())

    def batch_proof(self, store: GatewayStore, batch: StoredBatch) -> tuple[BatchSummary, Proof]:
        """The stored batch's summary as its anchor's tree holds it, and its proof there."""
        assert batch.anchor_id is not None and batch.anchor_index is not None
        key = (str(store.path), batch.anchor_id)
        if key not in self._proofs:
            summaries = [b.summary for b in store.anchor_batches(batch.anchor_id)]
            self._proofs[key] = (summaries, batch_proofs(summaries))
        summaries, proofs = self._proofs[key]
        return summaries[batch.anchor_index], proofs[batch.anchor_index]


def batch_blocks(batch: StoredBatch) -> list[SignedBlock]:
    return [parse_signed(f) for f in iter_frames(batch.data)]


def check_batch(store: GatewayStore, batch: StoredBatch, checker: Checker) -> BatchCheck:
    """Every block's signature and place, the batch's root, the device's binding, the anchor on chain."""
    def result(status: str, positions: list[int] | None = None, detail: str = "") -> BatchCheck:
        return BatchCheck(batch.machine, batch.device, batch.first_seq, batch.last_seq, batch.count, status, positions or [], detail)

    try:
        blocks = batch_blocks(batch)
    except EncodingError as exc:
        return result("corrupt", detail=exc.message)
    hashes = [keccak256(b.block) for b in blocks]
    forged = [i for i, (b, h) in enumerate(zip(blocks, hashes))
              if b.device != batch.device or b.machine != batch.machine or recover_signer(h, b.signature, checker.domain) != batch.device]
    if forged:
        return result("forged", forged, f"block(s) at position {', '.join(map(str, forged[:10]))} are not what device {batch.device} signed")
    seqs = [b.seq for b in blocks]
    if any(a >= b for a, b in zip(seqs, seqs[1:])) or not seqs or (seqs[0], seqs[-1], len(seqs)) != (batch.first_seq, batch.last_seq, batch.blocks):
        return result("out-of-sequence", detail=f"block seqs {seqs[:5]}... do not run {batch.first_seq}..{batch.last_seq} in order ({batch.blocks} blocks)")
    if sum(b.n for b in blocks) != batch.count:
        return result("corrupt", detail=f"{sum(b.n for b in blocks)} readings stored, {batch.count} summarised")
    leaves = [block_leaf(h, b.signature) for h, b in zip(hashes, blocks)]
    stored = [batch.leaves[i : i + 32] for i in range(0, len(batch.leaves), 32)]
    if positions := [i for i, (a, b) in enumerate(zip(leaves, stored)) if a != b] + list(range(len(stored), len(leaves))):
        return result("tampered", positions, "stored leaf hashes differ from the blocks")
    if root_of_leaves(leaves) != batch.root:
        return result("root-mismatch", detail="recomputed root differs from the batch's root")
    span = min(b.min_ts for b in blocks), max(b.max_ts for b in blocks)  # the reading times the device signed
    binding = checker.bindings.binding(batch.device)
    if binding.machine != batch.machine or not binding.signs_for(*span):
        return result("unbound", detail=binding.refusal(batch.machine, *span))
    if batch.status != "anchored" or batch.anchor_id is None:
        return result("unanchored", detail=f"status {batch.status}")
    anchor = store.anchor(batch.anchor_id).anchor
    summary, proof = checker.batch_proof(store, batch)
    if summary != batch.summary or not batch_in_anchor(summary, proof, anchor) or not checker.registry.is_anchored(anchor):
        return result("not-on-chain", detail=f"the chain holds no anchor {hex0x(anchor.root)[:14]}… with this batch")
    if binding.spoils(batch.machine, *span, lambda: checker.bindings.revoked_before(batch.device, anchor.block_number)):
        return result("unbound", detail=f"device {batch.device} was revoked before block {anchor.block_number}")
    return result("ok")


def check_batches(store: GatewayStore, batches: Iterable[StoredBatch], checker: Checker) -> list[BatchCheck]:
    """`check_batch` for each, and a (device, seq) in two batches fails the later one as replayed."""
    seen: dict[str, list[tuple[int, int]]] = {}
    out = []
    for b in sorted(batches, key=lambda b: b.id):
        c = check_batch(store, b, checker)
        earlier = seen.setdefault(b.device, [])
        if c.ok and any(lo <= b.last_seq and b.first_seq <= hi for lo, hi in earlier):
            c = BatchCheck(c.machine, c.device, c.first_seq, c.last_seq, c.count, "replayed", detail=f"seqs {b.first_seq}..{b.last_seq} overlap an earlier batch of the device")
        earlier.append((b.first_seq, b.last_seq))
        out.append(c)
    return out


def format_batch_checks(checks: list[BatchCheck]) -> str:
    lines = [f"{c.machine} seq {c.first_seq}..{c.last_seq}: {c.status} ({c.count} readings){' ' + c.detail if c.detail else ''}" for c in checks]
    bad = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - bad} of {len(checks)} batch(es) verified" + (f", {bad} FAILED" if bad else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- one reading: a proof anyone can check


def reading_proof(store: GatewayStore, batch: StoredBatch, seq: int, index: int, checker: Checker) -> dict[str, Any]:
    """A self-contained proof of reading `index` of block `seq` of the stored batch: the signed block, its proof in
    the batch, the batch summary, its proof in the anchor, and the anchor (no other reading is disclosed)."""
    if batch.status != "anchored" or batch.anchor_id is None:
        raise FedpmError(f"the batch holding block {seq} of {batch.machine} is not anchored yet ({batch.status})", hint="wait for the gateway to anchor it")
    frames = list(iter_frames(batch.data))
    blocks = [parse_signed(f) for f in frames]
    pos = next((i for i, b in enumerate(blocks) if b.seq == seq), None)
    if pos is None:
        raise FedpmError(f"batch {batch.first_seq}..{batch.last_seq} of {batch.machine} holds no block {seq}", hint="the block never reached the gateway (fedpm gateway status)")
    block = blocks[pos]
    if not 0 <= index < block.n:
        raise FedpmError(f"block {seq} of {batch.machine} has no reading {index}", hint=f"use an index 0..{block.n - 1}")
    tree = levels([block_leaf(keccak256(b.block), b.signature) for b in blocks])
    summary, batch_proof = checker.batch_proof(store, batch)
    r = block.readings()[index]
    return {"reading": {"machine": r.machine, "channel": r.channel, "ts": r.ts_ms, "value": r.value, "unit": r.unit, "index": index},
            "block": {"data": hex0x(block.block), "signature": hex0x(block.signature), "proof": prove_from_levels(tree, pos).to_json()},
            "batch": summary.to_json(), "batch_proof": batch_proof.to_json(), "anchor": store.anchor(batch.anchor_id).anchor.to_json()}


@dataclass(frozen=True)
class ReadingCheck:
    proof: dict[str, Any]
    origin_ok: bool  # the device signed the block and is bound to its machine
    inclusion_ok: bool  # block in batch in an anchored root
    chain_ok: bool  # the contract's verifyBlock agrees
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.origin_ok and self.inclusion_ok and self.chain_ok

    def to_json(self) -> dict[str, Any]:
        return {**self.proof, "origin_ok": self.origin_ok, "inclusion_ok": self.inclusion_ok, "chain_ok": self.chain_ok, "ok": self.ok, "detail": self.detail}


def check_reading_proof(proof: dict[str, Any], checker: Checker) -> ReadingCheck:
    """Check a reading proof (from `reading_proof`, or handed over by whoever holds the data) against the chain."""
    try:
        raw = bytes.fromhex(proof["block"]["data"][2:])
        sig = bytes.fromhex(proof["block"]["signature"][2:])
        block = parse_signed(raw + sig)
        block_proof = Proof.from_json(proof["block"]["proof"])
        summary = BatchSummary.from_json(proof["batch"])
        batch_proof = Proof.from_json(proof["batch_proof"])
        anchor = Anchor.from_json(proof["anchor"])
        r = proof["reading"]
        if type(r["index"]) is not int or not 0 <= r["index"] < block.n:
            raise ValueError(f"reading index {r['index']!r} is not in the block")
        reading = block.readings()[r["index"]]
    except (KeyError, TypeError, ValueError, IndexError, EncodingError) as exc:
        raise VerificationFailed(f"malformed reading proof: {exc}", hint="pass the JSON `fedpm verify reading` prints") from None
    claimed = (r.get("machine"), r.get("channel"), r.get("ts"), r.get("value"), r.get("unit"))
    if claimed != (reading.machine, reading.channel, reading.ts_ms, reading.value, reading.unit):
        return ReadingCheck(proof, False, False, False, f"the reading shown is not reading {r['index']} of the signed block")
    block_hash = keccak256(block.block)
    binding = checker.bindings.binding(block.device)
    signed = recover_signer(block_hash, block.signature, checker.domain) == block.device
    bound = binding.spoils(block.machine, block.min_ts, block.max_ts, lambda: checker.bindings.revoked_before(block.device, anchor.block_number)) is None
    origin = signed and bound and block.device == summary.device and block.machine == summary.machine and summary.first_seq <= block.seq <= summary.last_seq
    in_batch = block_proof.count == summary.blocks and root_from_proof(block_leaf(block_hash, block.signature), block_proof) == summary.root
    inclusion = in_batch and batch_in_anchor(summary, batch_proof, anchor) and checker.registry.is_anchored(anchor)
    chain = checker.registry.verify_block(anchor, summary, batch_proof, block.block, block.signature, block_proof)
    detail = "" if origin and inclusion and chain else ("not signed by its device" if not signed else "device not bound to the machine" if not bound
                                                       else "block not in an anchored batch" if not inclusion else "the contract does not confirm it")
    return ReadingCheck(proof, origin, inclusion, chain, detail)
