"""Sensor data for training: only readings of batches that are anchored and verify against the chain."""

from __future__ import annotations

from pathlib import Path

from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.encoding import Reading, decode_batch
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import check_batch


def verified_readings(store: GatewayStore | Path, registry: SensorBatchRegistry, machine: str, from_ms: int | None = None, to_ms: int | None = None, *, channels: set[str] | None = None) -> list[Reading]:
    """Readings of `machine` with from_ms <= ts <= to_ms from anchored batches whose stored data reproduces the
    anchored root and whose anchor the chain confirms (`isAnchored`). Batches failing the check are skipped
    entirely. Order: batch sequence, then leaf order."""
    own = not isinstance(store, GatewayStore)
    st = GatewayStore(store) if own else store
    try:
        out: list[Reading] = []
        for batch in st.batches(machine=machine, status="anchored", from_ms=from_ms, to_ms=to_ms):
            if not check_batch(batch, registry).ok:
                continue
            for r in decode_batch(batch.data):
                if (from_ms is None or r.ts_ms >= from_ms) and (to_ms is None or r.ts_ms <= to_ms) and (channels is None or r.channel in channels):
                    out.append(r)
        return out
    finally:
        if own:
            st.close()
