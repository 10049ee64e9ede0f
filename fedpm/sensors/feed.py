"""Verified sensor data for live use, per machine: the one seam between the sensor pipeline and what reads it live
(the prediction service, the run-to-failure labels).

`VerifiedFeed(store_path, registry).read(machine)` returns a machine's readings that verify against the chain, each
batch they came from (`BatchRef`: device, seq, time span, Merkle root, anchoring transaction) and the problems a
reader must not paper over (`Problem`): a batch that fails verification (tampered, not on chain, corrupt: its
readings are left out whole) and blocks the gateway never received (sequence gaps), each with the time span it
affects. Batches not yet anchored are not read yet. Reads are incremental: a batch is decoded and verified once, then
kept (the newest `retain` batches per machine); the chain's anchors are read from `BatchAnchored` events, one log query
per refresh (`AnchorIndex`), instead of one `isAnchored` call per batch.

How readings get verified (device signatures, Merkle roots, anchors) belongs to the sensor pipeline; only this
module knows it on the reading side, so a change there changes this file and no reader.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedpm.sensors.client import Anchor, SensorBatchRegistry
from fedpm.sensors.encoding import EncodingError, Reading, decode_batch
from fedpm.sensors.store import GatewayStore, StoredBatch
from fedpm.sensors.verify import check_batch
from ground.ids import from_bytes32, hex0x


@dataclass(frozen=True)
class BatchRef:
    """Where verified readings come from: an anchored batch, provable against the chain."""

    machine: str
    device: str
    seq: int
    from_ms: int
    to_ms: int
    count: int
    root: str
    tx_hash: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "device": self.device, "seq": self.seq, "from_ms": self.from_ms, "to_ms": self.to_ms,
                "count": self.count, "root": self.root, "tx_hash": self.tx_hash, "block": self.block}


@dataclass(frozen=True)
class Problem:
    """Data that is missing or does not verify, over [from_ms, to_ms] (None: unknown bound)."""

    kind: str  # "unverified" | "gap"
    from_ms: int | None
    to_ms: int | None
    detail: str

    def overlaps(self, lo: int, hi: int) -> bool:
        return (self.to_ms is None or self.to_ms >= lo) and (self.from_ms is None or self.from_ms <= hi)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "from_ms": self.from_ms, "to_ms": self.to_ms, "detail": self.detail}


@dataclass
class MachineData:
    machine: str
    readings: list[Reading] = field(default_factory=list)  # verified, in batch order
    batches: list[BatchRef] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def refs_between(self, lo: int, hi: int) -> list[BatchRef]:
        return [b for b in self.batches if b.to_ms >= lo and b.from_ms <= hi]


class AnchorIndex:
    """The chain's anchored batches by (device, seq), from `BatchAnchored` events read incrementally; answers
    `is_anchored(anchor)` as the contract's view does (the exact anchor, submitter and block included)."""

    def __init__(self, registry: SensorBatchRegistry) -> None:
        self.registry = registry
        self._next_block = registry.from_block
        self._known: dict[tuple[str, int], Anchor] = {}

    def refresh(self) -> None:
        latest = int(self.registry.ctx.w3.eth.block_number)
        if latest < self._next_block:
            return
        for log in self.registry.logs("BatchAnchored", from_block=self._next_block):
            a = log["args"]
            anchor = Anchor(from_bytes32(a["machineId"]), a["device"], a["deviceSeq"], a["fromTime"], a["toTime"], a["count"], bytes(a["merkleRoot"]),
                            a["submitter"], log["blockNumber"], log["transactionHash"].to_0x_hex())
            self._known[(anchor.device.lower(), anchor.seq)] = anchor
        self._next_block = latest + 1

    def is_anchored(self, anchor: Anchor) -> bool:
        key = (anchor.device.lower(), anchor.seq)
        if key not in self._known:
            self.refresh()
        found = self._known.get(key)
        return found is not None and (found.machine, found.from_time, found.to_time, found.count, found.root, found.submitter.lower(), found.block_number) == \
            (anchor.machine, anchor.from_time, anchor.to_time, anchor.count, anchor.root, anchor.submitter.lower(), anchor.block_number)


@dataclass
class _Seen:
    ref: BatchRef
    readings: list[Reading]
    problem: Problem | None


class VerifiedFeed:
    """Verified readings per machine from a gateway store. Thread-safe; one SQLite connection of its own."""

    def __init__(self, store_path: Path, registry: SensorBatchRegistry, *, retain: int = 5000) -> None:
        self.store_path = Path(store_path)
        self.registry = registry
        self.retain = retain
        self.anchors = AnchorIndex(registry)
        self._lock = threading.Lock()
        self._store: GatewayStore | None = None
        self._seen: dict[str, dict[int, _Seen]] = {}  # machine -> batch id -> what it gave
        self._cursor: dict[str, int] = {}  # machine -> highest batch id settled (anchored or failed)

    def _db(self) -> GatewayStore:
        if self._store is None:
            self._store = GatewayStore(self.store_path)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def machines(self) -> list[str]:
        """Machines with at least one batch in the store."""
        if not self.store_path.exists():
            return []
        with self._lock:
            return [m for (m,) in self._db().db.execute("SELECT DISTINCT machine FROM batches ORDER BY machine")]

    def read(self, machine: str, channels: set[str] | None = None) -> MachineData:
        """The machine's verified readings (only `channels`, if given), their batches and its problems."""
        with self._lock:
            if not self.store_path.exists():
                return MachineData(machine)
            st = self._db()
            seen = self._settle(st, machine)
            out = MachineData(machine)
            for item in seen.values():
                if item.problem is not None:
                    out.problems.append(item.problem)
                    continue
                out.batches.append(item.ref)
                out.readings += item.readings if channels is None else [r for r in item.readings if r.channel in channels]
            out.problems += self._gaps(st, machine)
            return out

    def _settle(self, st: GatewayStore, machine: str) -> dict[int, _Seen]:
        """Decode and verify the batches stored since the last call, up to the first not yet anchored."""
        seen = self._seen.setdefault(machine, {})
        cursor = self._cursor.get(machine, 0)
        for batch in list(st.batches_after(machine, cursor)):
            if batch.status == "signed":
                break  # not anchored yet: read it (and what follows) on a later call
            seen[batch.id] = _verify(batch, self.anchors)
            cursor = batch.id
        self._cursor[machine] = cursor
        for old in sorted(seen)[: max(0, len(seen) - self.retain)]:
            del seen[old]
        return seen

    @staticmethod
    def _gaps(st: GatewayStore, machine: str) -> list[Problem]:
        """Sequenced blocks never received, spanning from the batch of the block before to the batch of the block after."""
        out = []
        for gap in st.gaps(machine):
            lo = st.db.execute("SELECT b.from_time FROM blocks k JOIN batches b ON b.id = k.batch_id WHERE k.machine = ? AND k.src = ? AND k.seq = ?",
                               (machine, gap.src, gap.first - 1)).fetchone()
            hi = st.db.execute("SELECT b.to_time FROM blocks k JOIN batches b ON b.id = k.batch_id WHERE k.machine = ? AND k.src = ? AND k.seq = ?",
                               (machine, gap.src, gap.last + 1)).fetchone()
            out.append(Problem("gap", lo[0] if lo else None, hi[0] if hi else None,
                               f"blocks {gap.first}..{gap.last} of {gap.src} never reached the gateway" if gap.size > 1 else f"block {gap.first} of {gap.src} never reached the gateway"))
        return out


def _verify(batch: StoredBatch, anchors: AnchorIndex) -> _Seen:
    ref = BatchRef(batch.machine, batch.device, batch.seq, batch.from_time, batch.to_time, batch.count, hex0x(batch.root), batch.tx_hash or "",
                   batch.block_number or 0)
    check = check_batch(batch, anchors)  # type: ignore[arg-type]  # AnchorIndex answers is_anchored as the registry does
    if not check.ok:
        what = f"batch {batch.seq} of device {batch.device[:10]}…: {check.status}{' (' + check.detail + ')' if check.detail else ''}"
        return _Seen(ref, [], Problem("unverified", batch.from_time, batch.to_time, what))
    try:
        return _Seen(ref, decode_batch(batch.data), None)
    except EncodingError as exc:
        return _Seen(ref, [], Problem("unverified", batch.from_time, batch.to_time, f"batch {batch.seq}: {exc.message}"))
