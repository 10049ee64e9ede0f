"""The audit's verdicts on constructed histories (pure)."""

from __future__ import annotations

import dataclasses
import json

import pytest

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


# --- exact verdicts, details and output (kill audit.py's mutants: `make mutate-py`) ---

def _mixed_report():
    records = [rec(n) for n in range(4)]
    chain = chain_of(records)
    chain[3] = dataclasses.replace(chain[3], author_org="", block=None, tx_hash=None)
    edited = dataclasses.replace(records[1], description="geändert")
    local = [LocalEntry(seq=1, record=records[0], stored_hash=records[0].hash, chain_index=0),
             LocalEntry(seq=2, record=edited, stored_hash=None, chain_index=1),  # found by its anchoring position
             LocalEntry(seq=3, record=Record(machine=M, time=5, kind=Kind.FAULT, component="belt", description="d",
                                             technician_org="factory-1", technician="t"))]
    return audit_history(M, reversed(local), reversed(chain)), records, edited


def test_mixed_history_exact_items_and_details():
    report, records, edited = _mixed_report()
    assert [(i.status, i.chain.index if i.chain else None, i.detail) for i in report.items] == [
        (Status.VERIFIED, 0, ""),
        (Status.ALTERED, 1, f"local record hashes to {edited.hash}, chain has {records[1].hash}"),
        (Status.MISSING_LOCALLY, 2, "written by factory-1"),
        (Status.MISSING_LOCALLY, 3, "written by 0xabc"),  # no org on chain: the account
        (Status.MISSING_ON_CHAIN, None, "not anchored on chain")]
    assert not report.ok and report.counts() == {"verified": 1, "altered": 1, "missing locally": 2, "missing on chain": 1, "out of order": 0}
    assert list(report.by_hash()) == [r.hash for r in records]
    assert report.items[4].record_hash == report.items[4].local.computed_hash and report.items[2].record_hash == records[2].hash


def test_mixed_history_exact_table():
    report, records, _ = _mixed_report()
    h = [f"{r.hash[:10]}…{r.hash[-4:]}" for r in records]
    lone = report.items[4].local.computed_hash
    assert format_audit_table(report).splitlines() == [
        "#  STATUS            KIND         COMPONENT  RECORD HASH      TX               BLOCK  DETAIL",
        f"0  verified          maintenance  spindle    {h[0]}  0x00000000…0000  10",
        f"1  altered           maintenance  spindle    {h[1]}  0x00000000…0001  11     local record hashes to {report.items[1].local.computed_hash}, chain has {records[1].hash}",
        f"2  missing locally   maintenance  -          {h[2]}  0x00000000…0002  12     written by factory-1",
        f"3  missing locally   maintenance  -          {h[3]}  -                -      written by 0xabc",
        f"-  missing on chain  fault        belt       {lone[:10]}…{lone[-4:]}  -                -      not anchored on chain",
        "press-07: DISCREPANCIES (1 verified, 1 altered, 2 missing locally, 1 missing on chain)"]


def test_empty_history_is_ok():
    report = audit_history(M, [], [])
    assert report.ok and report.items == () and format_audit_table(report).splitlines()[-1] == "press-07: OK (no entries)"


def test_item_json_with_and_without_each_side():
    report, records, edited = _mixed_report()
    data = json.loads(format_audit_json(report))
    assert data["machine"] == M and data["ok"] is False and data["counts"]["missing locally"] == 2
    altered, missing, lone = data["items"][1], data["items"][2], data["items"][4]
    assert altered["local"] == {"seq": 2, "computed_hash": edited.hash, "stored_hash": None, "pending": False, "record": edited.to_json()}
    assert altered["chain"] == {"index": 1, "record_hash": records[1].hash, "prev_hash": records[0].hash, "corrects": None,
                                "kind": "maintenance", "time": 1001, "author": "0xabc", "author_org": "factory-1",
                                "tx_hash": "0x" + "0" * 63 + "1", "block": 11}
    assert (missing["local"], missing["index"], missing["record_hash"], missing["status"]) == (None, 2, records[2].hash, "missing locally")
    assert (lone["chain"], lone["index"], lone["detail"]) == (None, None, "not anchored on chain")
    assert '"description": "geändert"' in format_audit_json(report)  # not ASCII-escaped
    unparsed = audit_history(M, [LocalEntry(seq=1, record=None, chain_index=0)], chain_of(records[:1]))
    item = unparsed.to_json()["items"][0]
    assert item["local"]["record"] is None and item["local"]["computed_hash"] is None and item["detail"] == "local record no longer parses"


def test_metadata_disagreement_detail_names_both_sides():
    records = [rec(0)]
    chain = [dataclasses.replace(chain_of(records)[0], time=999)]
    (item,) = audit_history(M, local_of(records), chain).items
    assert (item.status, item.detail) == (Status.ALTERED, "chain says maintenance@999, record says maintenance@1000")


def test_out_of_order_flags_only_the_moved_record():
    records = [rec(n) for n in range(4)]
    local = local_of([records[3], records[0], records[1], records[2]])  # the newest one moved to the front
    report = audit_history(M, local, chain_of(records))
    assert statuses(report) == ["verified", "verified", "verified", "out of order"]
    assert report.items[3].detail == "local position 1 disagrees with chain position 3"
    swapped = audit_history(M, local_of([records[1], records[0]]), chain_of(records[:2]))
    assert statuses(swapped).count("out of order") == 1


def test_chain_link_checks_the_index_and_the_predecessor():
    records = [rec(n) for n in range(3)]
    chain = chain_of(records)
    gap = [chain[0], dataclasses.replace(chain[1], index=2), ]
    report = audit_history(M, local_of(records[:2]), gap)
    assert statuses(report) == ["verified", "out of order"]
    assert report.items[1].detail == f"chain link broken: entry 2 names prev {records[0].hash}, expected {records[0].hash}"
    first = [dataclasses.replace(chain[0], prev_hash=records[2].hash)]
    (item,) = audit_history(M, [], first).items
    assert item.status is Status.OUT_OF_ORDER and item.local is None and item.detail.endswith(f"expected {ZERO_HASH}")


def test_a_record_kept_twice_locally_matches_once():
    records = [rec(0)]
    local = local_of(records) + [LocalEntry(seq=2, record=records[0], stored_hash=records[0].hash)]
    assert statuses(audit_history(M, local, chain_of(records))) == ["verified", "missing on chain"]


def test_the_first_entry_links_to_the_zero_bytes32_and_json_keys_are_sorted():
    assert ZERO_HASH == "0x" + "0" * 64  # what MaintenanceLog stores as the first entry's prev
    text = format_audit_json(audit_history(M, [], chain_of([rec(0)])))
    assert text.index('"counts"') < text.index('"items"') < text.index('"machine"') < text.index('"ok"')
    assert text.index('"author"') < text.index('"author_org"') < text.index('"block"') < text.index('"corrects"')


def test_json_is_indented_by_two_and_items_are_immutable():
    report = audit_history(M, [], chain_of([rec(0)]))
    assert format_audit_json(report).splitlines()[:3] == ["{", '  "counts": {', '    "altered": 0,']
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.items[0].detail = "x"  # type: ignore[misc]


def test_a_stored_hash_names_the_entry_before_the_anchoring_position_does():
    records = [rec(n) for n in range(3)]
    edited = dataclasses.replace(records[1], description="edited")
    local = [local_of(records)[0], LocalEntry(seq=2, record=edited, stored_hash=records[1].hash, chain_index=2)]
    assert statuses(audit_history(M, local, chain_of(records))) == ["verified", "altered", "missing locally"]


def test_a_stored_hash_alone_names_the_altered_entry():
    records = [rec(n) for n in range(2)]
    edited = dataclasses.replace(records[1], description="edited")
    local = [local_of(records)[0], LocalEntry(seq=2, record=edited, stored_hash=records[1].hash)]  # no anchoring position
    assert statuses(audit_history(M, local, chain_of(records))) == ["verified", "altered"]


def test_entries_and_reports_are_immutable():
    report = audit_history(M, local_of([rec(0)]), chain_of([rec(0)]))
    for value, field in ((report.items[0].local, "seq"), (report.items[0].chain, "index"), (report, "machine")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 1)
