"""Canonical bytes of a sensor reading and of a batch of readings (pure, no I/O).

Reading (what a Merkle leaf commits to), big-endian, no padding:

    machineId   32 bytes   readable bytes32 id (`ground.ids.to_bytes32`: UTF-8, zero-padded right)
    timestamp    8 bytes   uint64, milliseconds since the Unix epoch
    value        8 bytes   IEEE 754 binary64 (float64), big-endian
    channel    1+n bytes   uint8 length, then n bytes of UTF-8 (1 <= n <= 64), e.g. "vibration"
    unit       1+m bytes   uint8 length, then m bytes of UTF-8 (0 <= m <= 32), e.g. "g", "C", "A"

Value encoding: float64 rather than fixed-point. Every value a gateway receives (JSON numbers parsed by Python,
float32 sensor samples, C-MAPSS decimals) is exactly one float64, so the bytes round-trip exactly
(`decode(encode(r)) == r`) with no scale to choose and no range to overflow. For one canonical form, NaN and
infinities are rejected and -0.0 is stored as 0.0 (`canonical_value`).

Batch (what the gateway stores and what `verify batch` recomputes a root from):

    b"FPB\\x01"   4 bytes   magic and version
    count        4 bytes   uint32
    records      count x (uint16 length || reading bytes), in leaf order
"""

from __future__ import annotations

import math
import struct
from typing import Iterable, Iterator, NamedTuple

from ground.errors import FedpmError
from ground.ids import from_bytes32, to_bytes32

BATCH_MAGIC = b"FPB\x01"
MAX_CHANNEL = 64
MAX_UNIT = 32
_HEAD = struct.Struct(">32sQd")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
MAX_TS = 2**64 - 1


class EncodingError(FedpmError):
    """A reading or batch cannot be encoded or decoded canonically."""


class Reading(NamedTuple):
    machine: str  # readable machine id, e.g. "factory-1-m1"
    channel: str
    ts_ms: int
    value: float
    unit: str = ""


def canonical_value(value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise EncodingError(f"reading value {value!r} is not finite", hint="send finite numbers only")
    return v + 0.0  # -0.0 -> 0.0


def encode_reading(r: Reading, machine_id: bytes | None = None) -> bytes:
    """Canonical bytes of one reading. `machine_id` may pass `to_bytes32(r.machine)` precomputed."""
    ch = r.channel.encode()
    un = r.unit.encode()
    if not 0 < len(ch) <= MAX_CHANNEL or len(un) > MAX_UNIT:
        raise EncodingError(f"channel {r.channel!r} or unit {r.unit!r} has a bad length", hint=f"channel 1..{MAX_CHANNEL} bytes, unit 0..{MAX_UNIT} bytes")
    ts = r.ts_ms
    if type(ts) is not int or not 0 <= ts <= MAX_TS:
        raise EncodingError(f"timestamp {ts!r} is not a uint64 count of milliseconds", hint="send integer epoch milliseconds")
    return _HEAD.pack(machine_id or to_bytes32(r.machine), ts, canonical_value(r.value)) + bytes((len(ch),)) + ch + bytes((len(un),)) + un


def decode_reading(data: bytes) -> Reading:
    try:
        mid, ts, value = _HEAD.unpack_from(data, 0)
        n = data[48]
        ch = data[49 : 49 + n]
        m = data[49 + n]
        un = data[50 + n : 50 + n + m]
        if len(ch) != n or len(un) != m or 50 + n + m != len(data):
            raise ValueError("length")
        return Reading(from_bytes32(mid), ch.decode(), ts, value, un.decode())
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        raise EncodingError("malformed reading bytes", hint="the stored batch is corrupt") from None


def encode_records(encoded: Iterable[bytes]) -> bytes:
    """The body of a batch: each encoded reading prefixed by its uint16 length."""
    return b"".join(_U16.pack(len(e)) + e for e in encoded)


def encode_batch(readings: Iterable[Reading]) -> bytes:
    encoded = [encode_reading(r) for r in readings]
    return batch_from_records(len(encoded), encode_records(encoded))


def batch_from_records(count: int, records: bytes) -> bytes:
    return BATCH_MAGIC + _U32.pack(count) + records


def iter_records(records: bytes) -> Iterator[bytes]:
    """The encoded readings in a batch body (without the header)."""
    pos, end = 0, len(records)
    while pos < end:
        if pos + 2 > end:
            raise EncodingError("truncated batch record", hint="the stored batch is corrupt")
        (n,) = _U16.unpack_from(records, pos)
        if pos + 2 + n > end:
            raise EncodingError("truncated batch record", hint="the stored batch is corrupt")
        yield records[pos + 2 : pos + 2 + n]
        pos += 2 + n


def split_batch(data: bytes) -> list[bytes]:
    """The encoded readings of a batch, in leaf order; checks magic and count."""
    if data[:4] != BATCH_MAGIC or len(data) < 8:
        raise EncodingError("not a fedpm batch (bad magic)", hint="the stored batch is corrupt")
    (count,) = _U32.unpack_from(data, 4)
    records = list(iter_records(data[8:]))
    if len(records) != count:
        raise EncodingError(f"batch header says {count} readings, body has {len(records)}", hint="the stored batch is corrupt")
    return records


def decode_batch(data: bytes) -> list[Reading]:
    return [decode_reading(e) for e in split_batch(data)]
