"""Canonical block bytes and frame streams (pure)."""

from __future__ import annotations

import io
import math
import struct

import pytest
from hypothesis import given, strategies as st

from fedpm.sensors.encoding import (EncodingError, Reading, encode_block, encode_frames, iter_frames, parse_signed, read_frame)

DEVICE = "0x" + "ab" * 20
SIG = b"\x11" * 64 + b"\x1b"
names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
blocks = st.tuples(names, names, st.integers(0, 2**64 - 1), st.sampled_from(["", "g", "C", "µm/s²"]),
                   st.lists(st.tuples(st.integers(0, 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=40))


def test_layout_is_documented_big_endian():
    data = encode_block(DEVICE, "m1", 7, "temp", "C", [1_700_000_000_123, 1_700_000_000_124], [45.5, -0.0])

    assert data[:4] == b"FPS\x01" and data[4:24] == bytes.fromhex("ab" * 20) and data[24:56] == b"m1".ljust(32, b"\0")
    assert data[56:64] == (7).to_bytes(8, "big") and data[64:66] == (2).to_bytes(2, "big")
    assert data[66:73] == b"\x04temp\x01C"
    assert data[73:89] == (1_700_000_000_123).to_bytes(8, "big") + (1_700_000_000_124).to_bytes(8, "big")
    assert data[89:] == struct.pack(">d", 45.5) + bytes(8)  # -0.0 is written as 0.0
    assert len(data) == 89 + 16


@given(blocks)
def test_a_signed_block_round_trips_exactly(b):
    machine, channel, seq, unit, pairs = b
    data = encode_block(DEVICE, machine, seq, channel, unit, [t for t, _ in pairs], [v for _, v in pairs])

    got = parse_signed(data + SIG)

    assert (got.block, got.signature, got.device.lower(), got.machine, got.seq, got.channel, got.unit, got.n) == (data, SIG, DEVICE, machine, seq, channel, unit, len(pairs))
    assert got.readings() == [Reading(machine, channel, t, v + 0.0, unit) for t, v in pairs]
    assert (got.min_ts, got.max_ts) == (min(t for t, _ in pairs), max(t for t, _ in pairs))


def test_bad_blocks_are_refused_when_encoding():
    for args in ([1], [1.0, 2.0]), ([], []), ([1.5], [1.0]), ([-1], [1.0]), ([1], [math.nan]), ([1], [math.inf]):
        with pytest.raises(EncodingError):
            encode_block(DEVICE, "m1", 0, "c", "", *args)
    with pytest.raises(EncodingError):
        encode_block(DEVICE, "m1", -1, "c", "", [1], [1.0])
    with pytest.raises(EncodingError):
        encode_block(DEVICE, "m1", 0, "", "", [1], [1.0])
    with pytest.raises(EncodingError):
        encode_block("0x1234", "m1", 0, "c", "", [1], [1.0])


def test_non_canonical_or_truncated_signed_blocks_are_refused():
    good = encode_block(DEVICE, "m1", 0, "c", "g", [1, 2], [1.0, 2.0]) + SIG
    parse_signed(good)
    nan = good[: -65 - 8] + struct.pack(">d", math.nan) + SIG
    neg_zero = good[: -65 - 8] + struct.pack(">d", -0.0) + SIG
    for bad in (good[:-1], good + b"\0", b"FPB\x01" + good[4:], good[:30], nan, neg_zero, good[:64] + b"\0\0" + good[66:]):
        with pytest.raises(EncodingError):
            parse_signed(bad)


def test_frames_carry_blocks_in_order_and_a_cut_stream_is_refused():
    a, b = b"a" * 3, b"b" * 70000
    data = encode_frames([a, b])

    assert list(iter_frames(data)) == [a, b]
    stream = io.BytesIO(data)
    assert [read_frame(stream), read_frame(stream), read_frame(stream)] == [a, b, None]
    for cut in (2, 9, len(data) - 1):
        with pytest.raises(EncodingError, match="truncated"):
            list(iter_frames(data[:cut]))
        s = io.BytesIO(data[:cut])
        with pytest.raises(EncodingError, match="cut off"):
            while read_frame(s) is not None:
                pass
