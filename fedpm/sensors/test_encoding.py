"""Canonical reading/batch bytes and payload parsing (pure)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, strategies as st

from fedpm.sensors.encoding import EncodingError, Reading, decode_batch, decode_reading, encode_batch, encode_reading, split_batch
from fedpm.sensors.ingest import MalformedPayload, parse_csv_row, parse_payload, split_topic

readings = st.builds(
    Reading,
    machine=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
    channel=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
    ts_ms=st.integers(0, 2**64 - 1),
    value=st.floats(allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["", "g", "C", "A", "µm/s²"]),
)


def test_layout_is_documented_big_endian():
    data = encode_reading(Reading("m1", "temp", 1_700_000_000_123, 45.5, "C"))

    assert data[:32] == b"m1".ljust(32, b"\0")
    assert data[32:40] == (1_700_000_000_123).to_bytes(8, "big")
    assert data[40:48] == struct.pack(">d", 45.5)
    assert data[48:] == b"\x04temp\x01C"


@given(readings)
def test_reading_round_trips_exactly(r):
    back = decode_reading(encode_reading(r))

    assert back == r._replace(value=r.value + 0.0)


def test_negative_zero_is_canonicalised_and_non_finite_rejected():
    assert encode_reading(Reading("m", "c", 1, -0.0)) == encode_reading(Reading("m", "c", 1, 0.0))
    for bad in (math.nan, math.inf):
        with pytest.raises(EncodingError):
            encode_reading(Reading("m", "c", 1, bad))


@given(st.lists(readings, min_size=1, max_size=20))
def test_batch_round_trips(rs):
    assert decode_batch(encode_batch(rs)) == [r._replace(value=r.value + 0.0) for r in rs]


def test_batch_with_wrong_count_is_rejected():
    data = bytearray(encode_batch([Reading("m", "c", 1, 1.0)] * 3))
    data[7] = 4

    with pytest.raises(EncodingError):
        split_batch(bytes(data))


def test_payload_forms_give_the_same_bytes():
    single = parse_payload("m1", "vib", b'{"ts": 5, "value": 0.25, "unit": "g"}')
    block = parse_payload("m1", "vib", b'{"ts": [5, 6], "values": [0.25, 1], "unit": "g"}')
    listed = parse_payload("m1", "vib", b'[{"ts": 5, "value": 0.25, "unit": "g"}, {"ts": 6, "value": 1, "unit": "g"}]')

    assert single.encoded[0] == encode_reading(Reading("m1", "vib", 5, 0.25, "g"))
    assert block.encoded == listed.encoded and block.encoded[0] == single.encoded[0]
    assert (block.min_ts, block.max_ts) == (5, 6)
    assert split_batch(b"FPB\x01" + (2).to_bytes(4, "big") + block.records) == block.encoded


@pytest.mark.parametrize("payload", [b"not json", b"{}", b'{"ts": 1.5, "value": 1}', b'{"ts": 1, "value": "x"}', b'{"ts": 1, "value": NaN}',
                                     b'{"ts": [1, 2], "values": [1]}', b'{"ts": -1, "value": 1}', b'{"ts": 1, "value": true}', b"[]", b'{"ts": 1, "value": 1, "unit": 7}'])
def test_malformed_payloads_are_rejected(payload):
    with pytest.raises(MalformedPayload):
        parse_payload("m1", "vib", payload)


def test_topic_and_csv_parsing():
    assert split_topic("fedpm/m1/vib", "fedpm") == ("m1", "vib")
    with pytest.raises(MalformedPayload):
        split_topic("fedpm/m1/vib/extra", "fedpm")
    machine, channel, parsed = parse_csv_row(["m1", "temp", "10", "45.5", "C"])
    assert (machine, channel, parsed.encoded[0]) == ("m1", "temp", encode_reading(Reading("m1", "temp", 10, 45.5, "C")))


@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=30), st.sampled_from(["", "g", "°C"]))
def test_block_records_equal_encode_reading_one_by_one(pairs, unit):
    from fedpm.sensors.ingest import encode_block

    parsed = encode_block("m1", "vib", unit, [t for t, _ in pairs], [v for _, v in pairs])

    assert parsed.n == len(pairs)
    assert parsed.encoded == [encode_reading(Reading("m1", "vib", t, v, unit)) for t, v in pairs]
    assert (parsed.min_ts, parsed.max_ts) == (min(t for t, _ in pairs), max(t for t, _ in pairs))


def test_negative_zero_is_stored_as_zero_and_non_numbers_are_malformed():
    zero = parse_payload("m1", "vib", b'{"ts": [1, 2], "values": [-0.0, 0]}')
    assert decode_reading(zero.encoded[0]).value == 0.0 and math.copysign(1, decode_reading(zero.encoded[0]).value) == 1
    assert zero.encoded[0][40:48] == zero.encoded[1][40:48] == bytes(8)  # float64 +0.0 for both -0.0 and 0
    for payload in (b'{"ts": 1, "value": "1.5"}', b'{"ts": 1, "value": 1' + b"0" * 400 + b"}", b'{"ts": [1, 2], "values": [1, [2]]}', b'{"ts": 18446744073709551616, "value": 1}'):
        with pytest.raises(MalformedPayload):
            parse_payload("m1", "vib", payload)
