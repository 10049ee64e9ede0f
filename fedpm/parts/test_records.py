"""Part records: canonical bytes and hash, strict parsing, and what coverage says is missing (pure)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fedpm.parts.records import BatchRef, MaintenanceRef, ModelRef, PartRecord, PartRecordError, coverage_gaps
from fedpm.sensors.anchoring import BatchSummary
from fedpm.sensors.merkle import keccak256

DEV, DEV2 = "0x" + "11" * 20, "0x" + "22" * 20


def batch(first: int, last: int, blocks: int | None = None, t0: int = 1000, t1: int = 2000, device: str = DEV, machine: str = "m1") -> BatchRef:
    n = last - first + 1 if blocks is None else blocks
    return BatchRef(BatchSummary(machine, device, first, last, n, 10 * n, t0, t1, keccak256(bytes([first]))), keccak256(b"anchor"))


def record(*batches: BatchRef, **changes) -> PartRecord:
    base = PartRecord("P-1", "m1", "milling", 1000, 2000, batches or (batch(0, 3),), MaintenanceRef("0x" + "ab" * 32, 2),
                      ModelRef(0, 5, "0x" + "cd" * 32, 87.5))
    return dataclasses.replace(base, **changes)


def test_the_record_is_canonical_json_and_its_hash_is_keccak_of_it():
    r = record()

    assert r.canonical() == json.dumps(r.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert r.hash == "0x" + keccak256(r.canonical()).hex()
    assert PartRecord.from_json(json.loads(r.canonical())) == r
    assert record(step="grinding").hash != r.hash and record(maintenance=None).hash != r.hash
    assert r.part_id == b"P-1".ljust(32, b"\0")


@pytest.mark.parametrize("changes", [dict(part=""), dict(part="x" * 33), dict(step=""), dict(step="s" * 65), dict(start_ms=3000), dict(start_ms=-1),
                                     dict(batches=()), dict(batches=(batch(0, 1, machine="m2"),))])
def test_an_inconsistent_record_is_refused(changes):
    with pytest.raises(PartRecordError):
        record(**changes)


@pytest.mark.parametrize("mutate", [lambda d: d.pop("machine"), lambda d: d.update(v=2), lambda d: d["batches"][0].update(root="0x12"),
                                    lambda d: d["maintenance"].update(record_hash="ab" * 32), lambda d: d["model"].update(model_hash=None),
                                    lambda d: d.update(start_ms="1000")])
def test_malformed_json_is_refused(mutate):
    d = record().to_json()
    mutate(d)
    with pytest.raises(PartRecordError):
        PartRecord.from_json(d)


def test_coverage_names_holes_in_and_between_batches_and_an_uncovered_span():
    assert coverage_gaps(record(batch(0, 3), batch(4, 9), batch(0, 2, device=DEV2))) == []
    assert coverage_gaps(record(batch(0, 3), batch(6, 9))) == [f"device {DEV} seq 4..5 missing"]
    assert coverage_gaps(record(batch(0, 3, blocks=3))) == [f"device {DEV} seq 0..3 holds 3 of 4 blocks"]
    assert coverage_gaps(record(batch(0, 3), batch(3, 5))) == [f"device {DEV} seqs 3..3 referenced twice"]
    assert coverage_gaps(record(batch(0, 3, t0=1001))) == ["the batches span 1001..2000 ms, not the part's 1000..2000"]
    assert coverage_gaps(record(batch(0, 3, t1=1999))) == ["the batches span 1000..1999 ms, not the part's 1000..2000"]
