"""Checking the local store against the chain: whole batches, and single readings by inclusion proof."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedpm.sensors.client import Anchor, SensorBatchRegistry
from fedpm.sensors.encoding import EncodingError, decode_reading, split_batch
from fedpm.sensors.merkle import Proof, leaf_hash, levels, prove_from_levels, root_of_leaves, verify
from fedpm.sensors.store import StoredBatch
from ground.errors import FedpmError
from ground.ids import hex0x


class VerificationFailed(FedpmError):
    """Stored sensor data does not match what was anchored on chain."""

    exit_code = 2


@dataclass(frozen=True)
class BatchCheck:
    machine: str
    seq: int
    count: int
    status: str  # ok | tampered | root-mismatch | not-on-chain | corrupt | unanchored
    positions: list[int] = field(default_factory=list)  # tampered reading positions (leaf indices)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return {"machine": self.machine, "seq": self.seq, "count": self.count, "status": self.status, "positions": self.positions, "detail": self.detail}


def check_batch(batch: StoredBatch, registry: SensorBatchRegistry) -> BatchCheck:
    """Recompute the batch's root from its stored readings and compare with the store's leaves and the chain."""
    base = dict(machine=batch.machine, seq=batch.seq, count=batch.count)
    try:
        records = split_batch(batch.data)
    except EncodingError as exc:
        return BatchCheck(**base, status="corrupt", detail=exc.message)
    leaves = [leaf_hash(r) for r in records]
    stored = [batch.leaves[i : i + 32] for i in range(0, len(batch.leaves), 32)]
    positions = [i for i, (a, b) in enumerate(zip(leaves, stored)) if a != b]
    if len(records) != batch.count:
        return BatchCheck(**base, status="corrupt", detail=f"{len(records)} readings stored, {batch.count} anchored")
    root = root_of_leaves(leaves)
    if batch.status != "anchored":
        return BatchCheck(**base, status="unanchored", positions=positions, detail=f"status {batch.status}")
    on_chain = registry.is_anchored(Anchor.of(batch))
    if positions:
        return BatchCheck(**base, status="tampered", positions=positions, detail=f"reading(s) at position {', '.join(map(str, positions[:10]))} differ from what was signed")
    if root != batch.root:
        return BatchCheck(**base, status="root-mismatch", detail="recomputed root differs from the anchored root")
    if not on_chain:
        return BatchCheck(**base, status="not-on-chain", detail="the chain holds no such anchor for this device and seq")
    return BatchCheck(**base, status="ok")


@dataclass(frozen=True)
class ReadingCheck:
    machine: str
    seq: int
    index: int
    reading: Any
    proof: Proof
    root: bytes
    local_ok: bool
    chain_ok: bool

    @property
    def ok(self) -> bool:
        return self.local_ok and self.chain_ok

    def to_json(self) -> dict:
        r = self.reading
        return {"machine": self.machine, "seq": self.seq, "index": self.index, "reading": {"channel": r.channel, "ts": r.ts_ms, "value": r.value, "unit": r.unit},
                "root": hex0x(self.root), "proof": self.proof.to_json(), "local_ok": self.local_ok, "chain_ok": self.chain_ok}


def check_reading(batch: StoredBatch, index: int, registry: SensorBatchRegistry) -> ReadingCheck:
    """Build an inclusion proof of stored reading `index` and check it locally and with the contract's view.

    The proof's siblings are computed from the stored reading bytes of the other readings; the anchored root
    (from the store's anchor, itself checked on chain by `verifyReading`) is the reference."""
    records = split_batch(batch.data)
    if not 0 <= index < len(records):
        raise FedpmError(f"batch {batch.machine}/{batch.seq} has no reading {index}", hint=f"use an index 0..{len(records) - 1}")
    tree = levels([leaf_hash(r) for r in records])
    proof = prove_from_levels(tree, index)
    local_ok = verify(records[index], proof, batch.root)
    chain_ok = batch.status == "anchored" and registry.verify_reading(Anchor.of(batch), records[index], index, proof.siblings)
    return ReadingCheck(batch.machine, batch.seq, index, decode_reading(records[index]), proof, batch.root, local_ok, bool(chain_ok))


def format_batch_checks(checks: list[BatchCheck]) -> str:
    lines = [f"{c.machine} seq {c.seq}: {c.status} ({c.count} readings){' ' + c.detail if c.detail else ''}" for c in checks]
    bad = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - bad} of {len(checks)} batch(es) verified" + (f", {bad} FAILED" if bad else ""))
    return "\n".join(lines)
