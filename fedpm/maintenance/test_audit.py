"""The audit's verdicts on constructed histories (pure)."""

from __future__ import annotations

import dataclasses
import json

from fedpm.maintenance.audit import ZERO_HASH, ChainEntry, LocalEntry, Status, audit_history, format_audit_json, format_audit_table
from fedpm.maintenance.records import Kind, Record

M = "press-07"


def rec(n: int) -> Record:
    return Record(machine=M, time=1000 + n, kind=Kind.MAINTENANCE, component="spindle", description=f"job {n}", technician_org="factory-1", technician="t")


def chain_of(records: list[Record]) -> list[ChainEntry]:
    out, prev = [], ZERO_HASH
    for i, r in enumerate(records):
        out.append(ChainEntry(i, r.hash, prev, r.corrects, r.kind, r.time, "0xabc", "factory-1", f"0x{i:064x}", 10 + i))
        prev = r.hash
    return out


def local_of(records: list[Record]) -> list[LocalEntry]:
    return [LocalEntry(seq=i + 1, record=r, stored_hash=r.hash, chain_index=i) for i, r in enumerate(records)]


def statuses(report) -> list[str]:
    return [i.status.value for i in report.items]


def test_matching_history_is_all_verified():
    records = [rec(n) for n in range(3)]

    report = audit_history(M, local_of(records), chain_of(records))

    assert report.ok and statuses(report) == ["verified"] * 3


def test_edited_local_record_is_altered_even_if_its_stored_hash_was_updated_too():
    records = [rec(n) for n in range(3)]
    local = local_of(records)
    edited = dataclasses.replace(records[1], description="job 1 (nothing found)")
    local[1] = dataclasses.replace(local[1], record=edited, stored_hash=edited.hash)  # hides the edit from a naive check

    report = audit_history(M, local, chain_of(records))

    assert statuses(report) == ["verified", "altered", "verified"] and not report.ok
    assert report.items[1].chain.record_hash == records[1].hash


def test_deleted_local_record_is_missing_locally():
    records = [rec(n) for n in range(3)]

    report = audit_history(M, local_of([records[0], records[2]]), chain_of(records))

    assert statuses(report) == ["verified", "missing locally", "verified"]


def test_reordered_local_records_are_out_of_order():
    records = [rec(n) for n in range(4)]
    local = local_of([records[0], records[2], records[1], records[3]])

    report = audit_history(M, local, chain_of(records))

    assert statuses(report).count("out of order") == 1 and statuses(report).count("verified") == 3


def test_unanchored_local_record_is_missing_on_chain():
    records = [rec(n) for n in range(2)]
    local = local_of(records) + [LocalEntry(seq=3, record=rec(9), stored_hash=rec(9).hash, pending=True)]

    report = audit_history(M, local, chain_of(records))

    assert statuses(report) == ["verified", "verified", "missing on chain"] and "sync" in report.items[2].detail


def test_broken_chain_link_is_out_of_order():
    records = [rec(n) for n in range(3)]
    chain = chain_of(records)
    chain[2] = dataclasses.replace(chain[2], prev_hash=records[0].hash)  # skips entry 1

    report = audit_history(M, local_of(records), chain)

    assert statuses(report)[2] == "out of order" and "link" in report.items[2].detail


def test_chain_metadata_that_disagrees_with_the_record_is_altered():
    records = [rec(0)]
    chain = [dataclasses.replace(chain_of(records)[0], kind=Kind.FAULT)]

    report = audit_history(M, local_of(records), chain)

    assert statuses(report) == ["altered"]


def test_unparseable_local_record_is_altered():
    records = [rec(0)]
    local = [LocalEntry(seq=1, record=None, stored_hash=records[0].hash, chain_index=0)]

    assert statuses(audit_history(M, local, chain_of(records))) == ["altered"]


def test_formatters_show_status_tx_and_verdict():
    records = [rec(n) for n in range(2)]
    report = audit_history(M, local_of(records[:1]), chain_of(records))

    table = format_audit_table(report)
    data = json.loads(format_audit_json(report))

    assert "missing locally" in table and "DISCREPANCIES" in table and "0x00000000…0001" in table
    assert data["ok"] is False and data["counts"]["verified"] == 1 and data["items"][1]["chain"]["block"] == 11
    assert Status.VERIFIED.value in table
