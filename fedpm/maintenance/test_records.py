"""The record model and its canonical encoding (pure)."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from fedpm.maintenance.records import InvalidRecord, Kind, Record, attachment_hash, canonical_bytes, correction_of, parse_canonical

A1, A2 = attachment_hash(b"photo-1"), attachment_hash(b"report.pdf")


def make(**kw: object) -> Record:
    base = dict(machine="press-07", time=1_700_000_000, kind=Kind.PART_REPLACEMENT, component="bearing B2",
                description="replaced worn bearing", technician_org="factory-1", technician="tech-7", attachments=(A2, A1))
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_canonical_bytes_are_sorted_compact_utf8_json():
    record = make(description="Lager getauscht – Spiel 0,3 mm")

    raw = canonical_bytes(record)

    assert raw.startswith(b'{"attachments":["') and b" :" not in raw and b", " not in raw
    assert "–".encode() in raw  # UTF-8, not \\u escapes
    assert raw.index(b'"component"') < raw.index(b'"corrects":null') < raw.index(b'"description"') < raw.index(b'"v":1')
    assert record.hash == "0x" + keccak(raw).hex()


def test_known_vector_pins_the_format():
    record = Record(machine="m", time=1, kind=Kind.FAULT, component="c", description="d", technician_org="o", technician="t")

    assert canonical_bytes(record) == b'{"attachments":[],"component":"c","corrects":null,"description":"d","kind":"fault","machine":"m","technician":"t","technician_org":"o","time":1,"v":1}'


def test_equivalent_inputs_hash_equally():
    a = make(attachments=(A1, A2), description="  caf\u00e9 ")
    b = make(attachments=(A2.upper().replace("0X", "0x"), A1, A1), description="cafe\u0301")  # NFD, unsorted, duplicated

    assert a.hash == b.hash


@pytest.mark.parametrize("field,value", [("description", "replaced worn bearing!"), ("time", 1_700_000_001), ("kind", Kind.INSPECTION),
                                         ("technician", "tech-8"), ("attachments", (A1,)), ("machine", "press-08")])
def test_any_field_change_changes_the_hash(field, value):
    assert make(**{field: value}).hash != make().hash


def test_round_trip_through_stored_json():
    record = make(corrects="0x" + "ab" * 32)

    assert parse_canonical(canonical_bytes(record)) == record


@pytest.mark.parametrize("kw,message", [({"time": 1.5}, "unix time"), ({"time": -1}, "unix time"), ({"component": "  "}, "empty"),
                                        ({"kind": "repair"}, "unknown record kind"), ({"attachments": ("0x1234",)}, "32-byte"),
                                        ({"corrects": "zz"}, "32-byte")])
def test_malformed_records_are_rejected(kw, message):
    with pytest.raises(InvalidRecord, match=message):
        make(**kw)


def test_stored_json_with_unknown_keys_is_rejected():
    data = make().to_json() | {"extra": 1}

    with pytest.raises(InvalidRecord, match="unexpected"):
        Record.from_json(data)


def test_correction_points_at_the_original_and_keeps_the_machine():
    original = make()

    fix = correction_of(original, time=original.time + 5, description="bearing B3, not B2", technician="tech-7", component="bearing B3")

    assert fix.corrects == original.hash and fix.machine == original.machine and fix.hash != original.hash


def test_kind_parse_accepts_cli_spellings():
    assert Kind.parse("part-replacement") is Kind.PART_REPLACEMENT and Kind.parse("Fault") is Kind.FAULT


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()), st.integers(0, 2**64 - 1))
def test_hash_is_stable_across_parse_and_reencode(description, time):
    record = make(description=description, time=time)

    assert parse_canonical(canonical_bytes(record).decode()).hash == record.hash


def test_answers_is_kept_only_by_records_that_use_it():
    from fedpm.maintenance.records import Kind, Record, parse_canonical

    base = dict(machine="press-7", time=1_700_000_000, kind=Kind.MAINTENANCE, component="spindle", description="greased",
                technician_org="factory-1", technician="tech-1")
    plain, answering = Record(**base), Record(**base, answers="0x" + "AB" * 32)

    assert b"answers" not in plain.canonical_bytes() and plain.canonical_bytes() == Record(**base, answers=None).canonical_bytes()
    assert b'"answers":"0x' + b"ab" * 32 + b'"' in answering.canonical_bytes() and answering.hash != plain.hash
    assert parse_canonical(answering.canonical_bytes()) == answering and parse_canonical(plain.canonical_bytes()) == plain
