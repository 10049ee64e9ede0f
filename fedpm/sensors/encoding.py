"""Canonical bytes of a sensor block, signed at the source, and of a batch of such blocks (pure, no I/O).

A block is what a device records, signs and publishes: readings of one channel of one machine, numbered by the
device. Layout, big-endian, no padding:

    magic        4 bytes   b"FPS\\x01"
    device      20 bytes   the address of the device key that signs the block
    machineId   32 bytes   readable bytes32 id (`ground.ids.to_bytes32`: UTF-8, zero-padded right)
    seq          8 bytes   uint64, the device's block sequence number: 0, 1, 2, ... over all its channels, no holes
    count        2 bytes   uint16, readings in the block (1..65535)
    channel    1+n bytes   uint8 length, then n bytes of UTF-8 (1 <= n <= 64), e.g. "vibration"
    unit       1+m bytes   uint8 length, then m bytes of UTF-8 (0 <= m <= 32), e.g. "g", "C", "A"
    ts       8*count bytes uint64 milliseconds since the Unix epoch, one per reading
    values   8*count bytes IEEE 754 binary64, one per reading

Value encoding: float64. Every value a device records (JSON numbers, float32 samples, C-MAPSS decimals) is
exactly one float64, so bytes round-trip exactly with no scale to choose. For one canonical form NaN and the
infinities are refused and -0.0 is written as 0.0 (a block carrying either does not decode).

A *signed block* is the block followed by the device's 65-byte signature r || s || v (v = 27 or 28) over the
block's EIP-712 digest (`fedpm.sensors.signing`). A *frame stream* (a batch body in the gateway store, the file
`fedpm device run --out` writes) is a sequence of frames: uint32 length || signed block.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np
from eth_utils import to_checksum_address

from ground.errors import FedpmError
from ground.ids import from_bytes32, to_bytes32

BLOCK_MAGIC = b"FPS\x01"
MAX_CHANNEL = 64
MAX_UNIT = 32
MAX_READINGS = 65535
MAX_TS = 2**64 - 1
SIGNATURE_LEN = 65
_HEAD = struct.Struct(">4s20s32sQH")  # magic, device, machineId, seq, count
_U32 = struct.Struct(">I")
HEAD_LEN = _HEAD.size  # 66


class EncodingError(FedpmError):
    """A reading or block cannot be encoded or decoded canonically."""


class Reading(NamedTuple):
    machine: str  # readable machine id, e.g. "factory-1-m1"
    channel: str
    ts_ms: int
    value: float
    unit: str = ""


@functools.lru_cache(maxsize=4096)
def address_of(raw: bytes) -> str:
    """The checksummed address of 20 raw bytes (cached: a gateway sees few devices, many blocks each)."""
    return to_checksum_address(raw)


@functools.lru_cache(maxsize=256)
def _array(n: int, code: str) -> struct.Struct:
    return struct.Struct(f">{n}{code}")


@functools.lru_cache(maxsize=4096)
def _machine_of(raw: bytes) -> str:
    return from_bytes32(raw)


def _tail(channel: str, unit: str) -> bytes:
    ch, un = channel.encode(), unit.encode()
    if not 0 < len(ch) <= MAX_CHANNEL or len(un) > MAX_UNIT:
        raise EncodingError(f"channel {channel!r} or unit {unit!r} has a bad length", hint=f"channel 1..{MAX_CHANNEL} bytes, unit 0..{MAX_UNIT} bytes")
    return bytes((len(ch),)) + ch + bytes((len(un),)) + un


def encode_block(device: str, machine: str, seq: int, channel: str, unit: str, ts: Sequence[int], values: Sequence[float]) -> bytes:
    """The canonical bytes of one block (what its device signs)."""
    n = len(ts)
    if n != len(values) or not 1 <= n <= MAX_READINGS:
        raise EncodingError(f"a block holds 1..{MAX_READINGS} readings with one timestamp each (got {n} timestamps, {len(values)} values)",
                            hint="split the readings into blocks of at most 65535")
    if type(seq) is not int or not 0 <= seq <= MAX_TS:
        raise EncodingError(f"block seq {seq!r} is not a uint64", hint="number a device's blocks 0, 1, 2, ...")
    try:
        packed_ts = _array(n, "Q").pack(*ts)  # refuses non-integers, negatives and anything past uint64
        vals = [v + 0.0 for v in values]  # -0.0 -> 0.0; refuses non-numbers
    except (struct.error, TypeError):
        raise EncodingError("timestamps must be integer epoch milliseconds (uint64) and values numbers", hint="send integer epoch milliseconds and numbers") from None
    if not all(map(math.isfinite, vals)):
        raise EncodingError("reading values must be finite", hint="send finite numbers only")
    dev = bytes.fromhex(device[2:] if device.startswith("0x") else device)
    if len(dev) != 20:
        raise EncodingError(f"device {device!r} is not a 20-byte address", hint="pass the device key's 0x address")
    return _HEAD.pack(BLOCK_MAGIC, dev, to_bytes32(machine), seq, n) + _tail(channel, unit) + packed_ts + _array(n, "d").pack(*vals)


@dataclass(frozen=True, slots=True)
class SignedBlock:
    """A parsed signed block: its header fields, and the bytes it came from (`block` signed, `signature`)."""

    block: bytes
    signature: bytes
    device: str  # checksummed address
    machine: str
    seq: int
    channel: str
    unit: str
    n: int
    min_ts: int
    max_ts: int

    @property
    def signed(self) -> bytes:
        return self.block + self.signature

    def timestamps(self) -> np.ndarray:
        start = len(self.block) - 16 * self.n
        return np.frombuffer(self.block, dtype=">u8", count=self.n, offset=start)

    def values(self) -> np.ndarray:
        return np.frombuffer(self.block, dtype=">f8", count=self.n, offset=len(self.block) - 8 * self.n)

    def readings(self) -> list[Reading]:
        return [Reading(self.machine, self.channel, int(t), float(v), self.unit) for t, v in zip(self.timestamps(), self.values())]


def parse_signed(data: bytes) -> SignedBlock:
    """Parse block || signature strictly; raises EncodingError on anything that is not one canonical signed block."""
    data = bytes(data)
    try:
        magic, dev, mid, seq, n = _HEAD.unpack_from(data, 0)
        pos = HEAD_LEN
        lc = data[pos]
        channel = data[pos + 1 : pos + 1 + lc].decode()
        pos += 1 + lc
        lu = data[pos]
        unit = data[pos + 1 : pos + 1 + lu].decode()
        pos += 1 + lu
    except (struct.error, IndexError, UnicodeDecodeError):
        raise EncodingError("truncated or undecodable block header", hint="publish blocks with `fedpm device run` or fedpm.sensors.encoding.encode_block") from None
    end = pos + 16 * n
    if magic != BLOCK_MAGIC:
        raise EncodingError("not a fedpm signed block (bad magic)", hint="devices sign blocks at the source: `fedpm device run`")
    if n == 0 or not 0 < lc <= MAX_CHANNEL or lu > MAX_UNIT or len(channel.encode()) != lc or len(unit.encode()) != lu:
        raise EncodingError("block header has a bad count, channel or unit", hint="the block is corrupt")
    if len(data) != end + SIGNATURE_LEN:
        raise EncodingError(f"block of {n} readings should be {end + SIGNATURE_LEN} bytes with its signature, got {len(data)}", hint="the block is truncated or unsigned")
    try:
        machine = _machine_of(mid)
    except FedpmError:
        raise EncodingError("block machine id is not a readable id", hint="the block is corrupt") from None
    ts = _array(n, "Q").unpack_from(data, pos)  # struct beats numpy on a few hundred numbers (the gateway's hot path)
    vals = _array(n, "d").unpack_from(data, pos + 8 * n)
    if not all(map(math.isfinite, vals)) or (0.0 in vals and any(v == 0.0 and math.copysign(1.0, v) < 0 for v in vals)):
        raise EncodingError("block values must be finite, with 0.0 for zero", hint="the block is not canonical")
    return SignedBlock(data[:end], data[end:], address_of(dev), machine, seq, channel, unit, n, min(ts), max(ts))


def frame(signed: bytes) -> bytes:
    return _U32.pack(len(signed)) + signed


def encode_frames(signed_blocks: Iterable[bytes]) -> bytes:
    return b"".join(frame(s) for s in signed_blocks)


def iter_frames(data: bytes) -> Iterator[bytes]:
    """The signed blocks of a frame stream, in order (bytes, unparsed)."""
    pos, end = 0, len(data)
    while pos < end:
        if pos + 4 > end:
            raise EncodingError("truncated frame", hint="the stored batch or block file is corrupt")
        (n,) = _U32.unpack_from(data, pos)
        if pos + 4 + n > end:
            raise EncodingError("truncated frame", hint="the stored batch or block file is corrupt")
        yield data[pos + 4 : pos + 4 + n]
        pos += 4 + n


def read_frame(stream) -> bytes | None:
    """The next signed block of a binary stream of frames, or None at its clean end."""
    head = stream.read(4)
    if not head:
        return None
    if len(head) < 4:
        raise EncodingError("truncated frame header at the end of the block stream", hint="the block file was cut off")
    (n,) = _U32.unpack(head)
    body = stream.read(n)
    if len(body) < n:
        raise EncodingError("truncated frame at the end of the block stream", hint="the block file was cut off")
    return body
