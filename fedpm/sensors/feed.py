"""Verified sensor data for live use, per machine: the one seam between the sensor pipeline and what reads it live
(the prediction service, the run-to-failure labels).

`VerifiedFeed(store_path, registry).read(machine)` returns a machine's readings that verify against the chain, each
batch they came from (`BatchRef`: device, block seqs, time span, Merkle root, the anchored root of roots and its
transaction) and the problems a reader must not paper over (`Problem`): a batch that fails verification (not what
its device signed, device not bound to the machine at the readings' time, tampered, not on chain, corrupt: its
readings are left out whole) and blocks of a device the gateway never received (sequence gaps per device), each
with the time span it affects. Batches not yet anchored are not read yet. Reads are incremental: a batch is checked
(`fedpm.sensors.verify.check_batch`) and decoded once, then kept (the newest `retain` batches per machine); the
chain's anchors are read from `RootAnchored` events, one log query per refresh (`AnchorIndex`), instead of one
`isAnchored` call per batch.

How readings get verified (device signatures, Merkle roots, anchors) belongs to the sensor pipeline; only this
module knows it on the reading side, so a change there changes this file and no reader.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from chain.errors import ChainUnreachable
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.sensors.anchoring import Anchor
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.encoding import EncodingError, Reading
from fedpm.sensors.store import GatewayStore, StoredBatch
from fedpm.sensors.verify import Checker, batch_blocks, check_batch
from ground.ids import hex0x


@dataclass(frozen=True)
class BatchRef:
    """Where verified readings come from: an anchored batch, provable against the chain."""

    machine: str
    device: str
    first_seq: int  # the device's blocks first_seq..last_seq
    last_seq: int
    from_ms: int
    to_ms: int
    count: int
    root: str  # the batch's Merkle root over its signed blocks
    anchor: str  # the root of roots anchored on chain over it
    tx_hash: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "device": self.device, "first_seq": self.first_seq, "last_seq": self.last_seq, "from_ms": self.from_ms,
                "to_ms": self.to_ms, "count": self.count, "root": self.root, "anchor": self.anchor, "tx_hash": self.tx_hash, "block": self.block}


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
    """The chain's anchored roots, from `RootAnchored` events read incrementally; answers `is_anchored(anchor)` as the
    registry's view does (the exact root, totals, submitter and block), so a `Checker` can use it in its place.

    The logs are fetched raw (`eth_getLogs` over `chain.log_chunk_blocks` ranges) and decoded with eth_abi: web3's
    event decoding costs ~10 ms a log on a busy machine, which a fleet of 1,000 machines cannot pay every cycle."""

    DATA = ("uint32", "uint64", "uint64", "uint64")  # batches, readings, fromTime, toTime

    def __init__(self, registry: SensorBatchRegistry) -> None:
        self.registry = registry
        self._next_block = registry.from_block
        self._known: dict[bytes, Anchor] = {}
        self._topic = "0x" + keccak(text="RootAnchored(bytes32,address,uint32,uint64,uint64,uint64)").hex()

    def refresh(self) -> None:
        w3 = self.registry.ctx.w3
        latest = int(w3.eth.block_number)
        chunk = self.registry.ctx.settings.chain.log_chunk_blocks
        start = self._next_block
        while start <= latest:
            end = min(start + chunk - 1, latest)
            logs = w3.provider.make_request("eth_getLogs", [{"address": self.registry.address, "topics": [self._topic],
                                                             "fromBlock": hex(start), "toBlock": hex(end)}])
            if "error" in logs:
                raise ChainUnreachable(str(w3.provider.endpoint_uri), hint=f"eth_getLogs failed: {logs['error']}")
            for log in logs["result"]:
                self._add(log)
            start = end + 1
        self._next_block = max(self._next_block, latest + 1)

    def _add(self, log: dict[str, Any]) -> None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        batches, readings, from_time, to_time = abi_decode(self.DATA, bytes.fromhex(log["data"][2:]))
        self._known[topics[1]] = Anchor(topics[1], batches, readings, from_time, to_time, to_checksum_address(topics[2][-20:]),
                                        int(log["blockNumber"], 16), log["transactionHash"])

    def is_anchored(self, anchor: Anchor) -> bool:
        root = bytes(anchor.root)
        if root not in self._known:
            self.refresh()
        found = self._known.get(root)
        return found is not None and (found.batches, found.readings, found.from_time, found.to_time, found.submitter.lower(), found.block_number) == \
            (anchor.batches, anchor.readings, anchor.from_time, anchor.to_time, anchor.submitter.lower(), anchor.block_number)


@dataclass
class _Seen:
    ref: BatchRef
    readings: list[Reading]
    problem: Problem | None


class VerifiedFeed:
    """Verified readings per machine from a gateway store. Thread-safe; one SQLite connection of its own."""

    def __init__(self, store_path: Path, registry: SensorBatchRegistry, bindings: DeviceBindings | None = None, *, retain: int = 5000) -> None:
        self.store_path = Path(store_path)
        self.registry = registry
        self.retain = retain
        self.anchors = AnchorIndex(registry)
        # the devices' signatures and bindings as any verifier checks them; anchors from the event index
        self.checker = Checker(self.anchors, bindings or DeviceBindings(ConsortiumRegistry(registry.ctx)), registry.signing_domain())  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._store: GatewayStore | None = None
        self._seen: dict[str, dict[int, _Seen]] = {}  # machine -> batch id -> what it gave
        self._cursor: dict[str, int] = {}  # machine -> highest batch id settled (anchored or failed)
        self._gap_cache: dict[str, tuple[int, list[Problem]]] = {}  # machine -> (cursor, its gaps then)
        self._machines: tuple[float, list[str]] = (0.0, [])

    def _db(self) -> GatewayStore:
        if self._store is None:
            self._store = GatewayStore(self.store_path)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def machines(self, max_age_s: float = 1.0) -> list[str]:
        """Machines with at least one batch in the store (read again at most every `max_age_s`)."""
        if not self.store_path.exists():
            return []
        with self._lock:
            at, found = self._machines
            if time.monotonic() - at > max_age_s:
                found = [m for (m,) in self._db().db.execute("SELECT DISTINCT machine FROM batches ORDER BY machine")]
                self._machines = (time.monotonic(), found)
            return list(found)

    def read(self, machine: str, channels: set[str] | None = None, tail: int | None = None) -> MachineData:
        """The machine's verified readings (only `channels`, if given; with `tail`, only those of its newest batches
        holding at least `tail` of them), their batches and its problems (all of them)."""
        with self._lock:
            if not self.store_path.exists():
                return MachineData(machine)
            st = self._db()
            seen = self._settle(st, machine)
            out = MachineData(machine)
            chunks: list[list[Reading]] = []
            count = 0
            for item in reversed(seen.values()):
                if item.problem is not None:
                    out.problems.append(item.problem)
                    continue
                if tail is not None and count >= tail:
                    continue
                out.batches.append(item.ref)
                chunk = item.readings if channels is None else [r for r in item.readings if r.channel in channels]
                chunks.append(chunk)
                count += len(chunk)
            out.batches.reverse()
            out.problems.reverse()
            out.readings = [r for chunk in reversed(chunks) for r in chunk]
            cursor = self._cursor.get(machine, 0)
            cached = self._gap_cache.get(machine)
            if cached is None or cached[0] != cursor:  # blocks arrive with batches: no new batch, no new gap
                cached = (cursor, self._gaps(st, machine))
                self._gap_cache[machine] = cached
            out.problems += cached[1]
            return out

    def _settle(self, st: GatewayStore, machine: str) -> dict[int, _Seen]:
        """Decode and verify the batches stored since the last call, up to the first not yet anchored."""
        seen = self._seen.setdefault(machine, {})
        cursor = self._cursor.get(machine, 0)
        for batch in list(st.batches_after(machine, cursor)):
            if batch.status in ("closed", "anchoring"):
                break  # not anchored yet: read it (and what follows) on a later call
            seen[batch.id] = _verify(st, batch, self.checker)
            cursor = batch.id
        self._cursor[machine] = cursor
        for old in sorted(seen)[: max(0, len(seen) - self.retain)]:
            del seen[old]
        return seen

    @staticmethod
    def _gaps(st: GatewayStore, machine: str) -> list[Problem]:
        """Blocks of the machine's devices never received, spanning from the batch of the block before to the batch of
        the block after."""
        devices = st.db.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM blocks WHERE machine = ? GROUP BY device", (machine,)).fetchall()
        if all(lo == 0 and n == hi + 1 for n, lo, hi in devices):
            return []  # every device complete from seq 0: no gap (a count instead of the window query)
        out = []
        at = "SELECT b.{} FROM blocks k JOIN batches b ON b.id = k.batch_id WHERE k.device = ? AND k.seq = ?"
        for gap in st.gaps(machine):
            lo = st.db.execute(at.format("from_time"), (gap.device, gap.first - 1)).fetchone()
            hi = st.db.execute(at.format("to_time"), (gap.device, gap.last + 1)).fetchone()
            which = f"blocks {gap.first}..{gap.last}" if gap.size > 1 else f"block {gap.first}"
            out.append(Problem("gap", lo[0] if lo else None, hi[0] if hi else None, f"{which} of device {gap.device} never reached the gateway"))
        return out


def _verify(st: GatewayStore, batch: StoredBatch, checker: Checker) -> _Seen:
    anchor = st.anchor(batch.anchor_id) if batch.anchor_id is not None else None
    ref = BatchRef(batch.machine, batch.device, batch.first_seq, batch.last_seq, batch.from_time, batch.to_time, batch.count, hex0x(batch.root),
                   hex0x(anchor.root) if anchor else "", (anchor.tx_hash or "") if anchor else "", (anchor.block_number or 0) if anchor else 0)
    what = f"batch {batch.first_seq}..{batch.last_seq} of device {batch.device[:10]}…"
    check = check_batch(st, batch, checker)
    if not check.ok:
        return _Seen(ref, [], Problem("unverified", batch.from_time, batch.to_time, f"{what}: {check.status}{' (' + check.detail + ')' if check.detail else ''}"))
    try:
        return _Seen(ref, [r for block in batch_blocks(batch) for r in block.readings()], None)
    except EncodingError as exc:
        return _Seen(ref, [], Problem("unverified", batch.from_time, batch.to_time, f"{what}: {exc.message}"))
