"""Parsing what arrives (MQTT JSON payloads, CSV rows, JSON lines) into canonical reading bytes (pure).

MQTT topic: `<root>/<machine>/<channel>`. Payload (JSON), one of:
    {"ts": 1712345678901, "value": 0.12, "unit": "g"}                   one reading
    {"ts": [t0, t1, ...], "values": [v0, v1, ...], "unit": "g"}         a block of readings of one channel
    [{"ts": ..., "value": ..., "unit": ...}, ...]                        a list of readings
`ts` is integer epoch milliseconds; values are finite JSON numbers (not strings, not booleans). The block form is
the efficient one: a gateway turns it into canonical records in one numpy pass, with no Python object per reading
(publishers should send blocks of ~100+ readings; the benchmark sends 100 per message).

Sequence numbers: a block (or single reading) object may carry `"src": "<publisher id>", "seq": <n>`, the
publisher's per-(src, machine) counter, 0, 1, 2, ... with no holes, kept across publisher restarts. They are
fields of the block itself (not MQTT metadata) so that a device signing its blocks at the source signs them too.
The gateway records every (machine, src, seq) it receives: a repeated seq is a duplicate, a seq never received
below the highest one is a gap it reports (`GatewayStore.gaps`). Blocks without them (CSV, stdin) are not tracked.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, replace

import numpy as np

from fedpm.sensors.encoding import MAX_CHANNEL, MAX_TS, MAX_UNIT, iter_records
from ground.errors import FedpmError
from ground.ids import to_bytes32

_HEAD = struct.Struct(">32sQd")


class MalformedPayload(FedpmError):
    """A message that is not a reading or a block of readings."""


@dataclass(frozen=True)
class Parsed:
    machine: str
    n: int  # number of readings
    records: bytes  # canonical reading bytes, each prefixed by its uint16 length (batch body fragment)
    min_ts: int
    max_ts: int
    src: str | None = None  # publisher id and its per-(src, machine) sequence number; both or neither
    seq: int | None = None

    @property
    def encoded(self) -> list[bytes]:
        """The canonical reading bytes one by one (not used on the gateway's hot path)."""
        return list(iter_records(self.records))


def _tail(channel: str, unit: object) -> bytes:
    if not isinstance(unit, str):
        raise MalformedPayload(f"unit {unit!r} is not a string")
    ch, un = channel.encode(), unit.encode()
    if not 0 < len(ch) <= MAX_CHANNEL or len(un) > MAX_UNIT:
        raise MalformedPayload(f"channel {channel!r} or unit {unit!r} has a bad length")
    return bytes((len(ch),)) + ch + bytes((len(un),)) + un


_NUMBER = (int, float)  # exact types: bool (a subclass of int) and strings are not readings
_DTYPES: dict[int, np.dtype] = {}


def _record_dtype(tail_len: int) -> np.dtype:
    """One record of a block: uint16 length || machineId(32) || ts uint64 BE || value float64 BE || tail (packed)."""
    dt = _DTYPES.get(tail_len)
    if dt is None:
        dt = _DTYPES[tail_len] = np.dtype([("len", ">u2"), ("mid", "S32"), ("ts", ">u8"), ("value", ">f8"), ("tail", f"V{tail_len}")])
    return dt


def encode_block(machine: str, channel: str, unit: object, ts: list, values: list) -> Parsed:
    """Canonical records of readings of one machine/channel/unit, built in one numpy pass (no object per reading)."""
    if not isinstance(ts, list) or not isinstance(values, list) or len(ts) != len(values) or not ts:
        raise MalformedPayload("ts and values must be non-empty lists of equal length")
    if not all(type(t) is int for t in ts):
        raise MalformedPayload("timestamps must be integer epoch milliseconds")
    lo, hi = min(ts), max(ts)
    if lo < 0 or hi > MAX_TS:
        raise MalformedPayload(f"timestamp {lo if lo < 0 else hi!r} is not uint64 epoch milliseconds")
    if not all(type(v) in _NUMBER for v in values):
        raise MalformedPayload("values must be numbers")
    try:
        vals = np.array(values, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        raise MalformedPayload("values must be finite float64 numbers") from None
    if not np.isfinite(vals).all():
        raise MalformedPayload("values must be finite numbers")
    tail = _tail(channel, unit)
    try:
        mid = to_bytes32(machine)
    except FedpmError as exc:
        raise MalformedPayload(str(exc)) from None
    rec = np.empty(len(ts), dtype=_record_dtype(len(tail)))
    rec["len"] = _HEAD.size + len(tail)
    rec["mid"] = mid
    rec["ts"] = np.array(ts, dtype=np.uint64)
    rec["value"] = vals + 0.0  # -0.0 -> 0.0
    rec["tail"] = np.void(tail)
    return Parsed(machine, len(ts), rec.tobytes(), lo, hi)


MAX_SRC = 64


def _sequence(obj: dict) -> tuple[str | None, int | None]:
    """The block's (src, seq), or (None, None) when it carries neither."""
    if "seq" not in obj and "src" not in obj:
        return None, None
    src, seq = obj.get("src"), obj.get("seq")
    if not isinstance(src, str) or not 0 < len(src.encode()) <= MAX_SRC or type(seq) is not int or seq < 0:
        raise MalformedPayload(f"src {src!r} / seq {seq!r}: a sequenced block needs a src string (1..{MAX_SRC} bytes) and an integer seq >= 0")
    return src, seq


def parse_payload(machine: str, channel: str, payload: bytes) -> Parsed:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("payload is not JSON") from None
    if isinstance(obj, dict):
        if "values" in obj:
            parsed = encode_block(machine, channel, obj.get("unit", ""), obj.get("ts"), obj["values"])
        elif "value" in obj and "ts" in obj:
            parsed = encode_block(machine, channel, obj.get("unit", ""), [obj["ts"]], [obj["value"]])
        else:
            raise MalformedPayload("payload object needs ts and value (or ts and values lists)")
        src, seq = _sequence(obj)
        return parsed if src is None else replace(parsed, src=src, seq=seq)
    if isinstance(obj, list) and obj and all(isinstance(o, dict) and "ts" in o and "value" in o for o in obj):
        units = {o.get("unit", "") for o in obj}
        if len(units) != 1:
            raise MalformedPayload("a list payload must use one unit")
        return encode_block(machine, channel, units.pop(), [o["ts"] for o in obj], [o["value"] for o in obj])
    raise MalformedPayload("payload is neither a reading, a block nor a list of readings")


def split_topic(topic: str, root: str) -> tuple[str, str]:
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != root or not parts[1] or not parts[2]:
        raise MalformedPayload(f"topic {topic!r} is not {root}/<machine>/<channel>")
    return parts[1], parts[2]


def parse_csv_row(row: list[str]) -> tuple[str, str, Parsed]:
    """CSV columns: machine, channel, ts_ms, value[, unit]."""
    if len(row) not in (4, 5):
        raise MalformedPayload(f"CSV row has {len(row)} columns; expected machine,channel,ts_ms,value[,unit]")
    try:
        ts, value = int(row[2]), float(row[3])
    except ValueError:
        raise MalformedPayload(f"CSV row {row!r}: ts_ms must be an integer and value a number") from None
    unit = row[4] if len(row) == 5 else ""
    return row[0], row[1], encode_block(row[0], row[1], unit, [ts], [value])


def parse_json_line(line: str) -> tuple[str, str, Parsed]:
    """One JSON object per line: {"machine", "channel", "ts", "value"[, "unit"]} (or ts/values lists)."""
    try:
        obj = json.loads(line)
    except ValueError:
        raise MalformedPayload("line is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("machine"), str) or not isinstance(obj.get("channel"), str):
        raise MalformedPayload("line needs machine and channel strings")
    return obj["machine"], obj["channel"], parse_payload(obj["machine"], obj["channel"], json.dumps({k: v for k, v in obj.items() if k not in ("machine", "channel")}).encode())
