"""Building a part's record from the operator's stores (the gateway's verified batches, the audited maintenance
history) and a passport from a record: the proofs of its batches in their anchors, the anchors, the signed blocks."""

from __future__ import annotations

from typing import Any

from fedpm.maintenance.audit import Status, audit_history
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.store import RecordStore
from fedpm.parts.client import PartRegistry
from fedpm.parts.passport import KIND
from fedpm.parts.records import BatchRef, MaintenanceRef, ModelRef, PartRecord, PartRecordError, coverage_gaps
from fedpm.sensors.encoding import iter_frames
from fedpm.sensors.store import GatewayStore, StoredBatch
from fedpm.sensors.verify import Checker, check_batches
from ground.ids import hex0x

ACCEPTED = (Status.VERIFIED, Status.MISSING_LOCALLY)  # another party's record, on chain, intact


def covering_batches(gateway: GatewayStore, checker: Checker, machine: str, start_ms: int, end_ms: int) -> list[StoredBatch]:
    """The machine's batches overlapping start..end, all anchored and verified (else PartRecordError naming the first bad one)."""
    batches = sorted(gateway.batches(machine=machine, from_ms=start_ms, to_ms=end_ms), key=lambda b: (b.device, b.first_seq))
    if not batches:
        raise PartRecordError(f"no sensor batch of {machine} covers {start_ms}..{end_ms}", hint="stream the machine's data through the gateway first (fedpm gateway status)")
    for b, c in zip(batches, check_batches(gateway, batches, checker)):
        if not c.ok:
            raise PartRecordError(f"batch seq {b.first_seq}..{b.last_seq} of {machine} (device {b.device}) is {c.status}: {c.detail}",
                                  hint="record parts only over anchored, verified data (fedpm verify batch)")
    return batches


def latest_audited(log: MaintenanceLog, records: RecordStore | None, machine: str, start_ms: int) -> MaintenanceRef | None:
    """The machine's latest maintenance entry at `start_ms`, if its audit is clean (else PartRecordError)."""
    entries = log.entries(machine)
    before = [e for e in entries if e.time * 1000 <= start_ms]
    if not before:
        return None
    latest = before[-1]
    report = audit_history(machine, records.local_entries(machine) if records is not None else [], entries)
    item = report.by_hash().get(latest.record_hash)
    if item is None or item.status not in ACCEPTED:
        raise PartRecordError(f"maintenance entry {latest.index} of {machine} is {item.status.value if item else 'unknown'} in the audit",
                              hint=f"fix the history first: fedpm audit maintenance --machine {machine}")
    return MaintenanceRef(latest.record_hash, latest.index)


def make_record(part: str, machine: str, step: str, start_ms: int, end_ms: int, gateway: GatewayStore, checker: Checker, log: MaintenanceLog,
                records: RecordStore | None, model: ModelRef | None = None) -> PartRecord:
    """The record of `part`: every verified batch covering its production, the audited maintenance state, the model."""
    batches = covering_batches(gateway, checker, machine, start_ms, end_ms)
    refs = tuple(BatchRef(b.summary, gateway.anchor(b.anchor_id).root) for b in batches)
    record = PartRecord(part, machine, step, start_ms, end_ms, refs, latest_audited(log, records, machine, start_ms), model)
    if gaps := coverage_gaps(record):
        raise PartRecordError(f"part {part}: {gaps[0]}", hint="a passport would fail: every block of the production must reach the gateway (fedpm gateway status)")
    return record


def make_passport(record: PartRecord, gateway: GatewayStore, checker: Checker, parts: PartRegistry, *, blocks: bool = True) -> dict[str, Any]:
    """The passport of `record`: per batch its proof in its anchor, the anchor and (with `blocks`) its signed blocks."""
    items = []
    for ref in record.batches:
        s = ref.summary
        stored = next((b for b in gateway.batches(machine=s.machine, device=s.device) if b.first_seq == s.first_seq and b.root == s.root), None)
        if stored is None:
            raise PartRecordError(f"batch seq {s.first_seq}..{s.last_seq} of {s.machine} is not in the gateway store {gateway.path}",
                                  hint="build passports where the part's sensor data is kept (--store)")
        item: dict[str, Any] = {"proof": None, "anchor": None}
        if stored.status == "anchored" and stored.anchor_id is not None:
            _, proof = checker.batch_proof(gateway, stored)
            item = {"proof": proof.to_json(), "anchor": gateway.anchor(stored.anchor_id).anchor.to_json()}
        if blocks:
            item["blocks"] = [hex0x(f) for f in iter_frames(stored.data)]
        items.append(item)
    recorded = parts.recorded(record.part)
    return {"kind": KIND, "v": 1, "record": record.to_json(), "record_hash": record.hash, "recorded": recorded[-1] if recorded else None,
            "chain": {"chain_id": parts.ctx.w3.eth.chain_id, "part_registry": parts.address, "sensor_registry": checker.registry.address},
            "batches": items}
