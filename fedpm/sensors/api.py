"""Sensor data for training: only readings of anchored batches that verify (device signatures, binding, chain), and
the lineage of what was used (`fedpm.sensors.lineage`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fedpm.sensors.anchoring import Anchor, BatchSummary
from fedpm.sensors.encoding import Reading
from fedpm.sensors.merkle import Proof
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import Checker, batch_blocks, check_batch


@dataclass(frozen=True)
class UsedBatch:
    """A batch whose readings went into a data set: its summary, its proof in its anchor, the anchor."""

    summary: BatchSummary
    proof: Proof
    anchor: Anchor


@dataclass
class VerifiedData:
    readings: list[Reading] = field(default_factory=list)
    batches: list[UsedBatch] = field(default_factory=list)


def verified_data(store: GatewayStore | Path, checker: Checker, machine: str, from_ms: int | None = None, to_ms: int | None = None, *,
                  channels: set[str] | None = None) -> VerifiedData:
    """Readings of `machine` with from_ms <= ts <= to_ms from anchored batches that pass `check_batch` (batches failing
    it are skipped entirely), and the batches they came from. Order: device, block seq, position in the block."""
    own = not isinstance(store, GatewayStore)
    st = GatewayStore(store) if own else store
    try:
        out = VerifiedData()
        for batch in st.batches(machine=machine, status="anchored", from_ms=from_ms, to_ms=to_ms):
            if not check_batch(st, batch, checker).ok:
                continue
            before = len(out.readings)
            for block in batch_blocks(batch):
                out.readings += [r for r in block.readings() if (from_ms is None or r.ts_ms >= from_ms) and (to_ms is None or r.ts_ms <= to_ms)
                                 and (channels is None or r.channel in channels)]
            if len(out.readings) > before:
                summary, proof = checker.batch_proof(st, batch)
                out.batches.append(UsedBatch(summary, proof, st.anchor(batch.anchor_id).anchor))
        return out
    finally:
        if own:
            st.close()
