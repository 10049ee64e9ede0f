"""Canonical model bytes: named arrays in a fixed order, in the safetensors format, hashed with keccak256.

Aggregators vote the hash of these bytes on chain, so the same arrays must give the same bytes in every process.
The `safetensors` library does not guarantee that: it reorders tensors (by dtype, then name) and serializes the
metadata map from a Rust HashMap whose iteration order is not fixed. We therefore write the container ourselves,
following the safetensors spec exactly, which keeps the files readable by `safetensors.numpy.load`:

  8 bytes   little-endian u64 N = header length
  N bytes   header: UTF-8 JSON {"__metadata__": {...}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
            compact separators, keys sorted, padded with spaces to a multiple of 8 (the spec allows this)
  data      each array's little-endian C-order bytes, concatenated in the caller's order, no gaps

The caller's order is the model's order: `data_offsets` record it, and `decode_weights` returns arrays sorted by
offset (empty tensors share an offset and come back in name order). Names carry an index prefix ("00.conv1d.kernel") so that even name-sorted readers get the same order.
The metadata holds `format`, `fedpm` (canonical JSON of the task spec) and, for an update trained on data with a
lineage, `fedpm-lineage` (canonical JSON of a reference to its lineage document: what data it was trained on, see
fedpm/sensors/lineage.py), never a timestamp. The update hash committed on chain covers the metadata, so it covers
the lineage; bytes without a lineage are exactly what they were before lineages existed.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from eth_utils import keccak

from ground.canonical import canonical_json
from ground.errors import FedpmError

Named = list[tuple[str, np.ndarray]]

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100_000_000


class ModelFileError(FedpmError):
    """Model bytes are not a canonical fedpm safetensors model."""


LINEAGE_KEY = "fedpm-lineage"


def _encode(named: Sequence[tuple[str, np.ndarray]], spec: dict | None, lineage: dict | None = None) -> tuple[bytes, list[np.ndarray]]:
    """The canonical prefix (length + header) and each array as contiguous little-endian bytes (views where the
    array already is, so encoding copies the data once, into the joined result)."""
    header: dict[str, Any] = {"__metadata__": {"format": "fedpm-v1"}}
    if spec is not None:
        header["__metadata__"]["fedpm"] = canonical_json(spec).decode("ascii")
    if lineage is not None:
        header["__metadata__"][LINEAGE_KEY] = canonical_json(lineage).decode("ascii")
    blobs, offset = [], 0
    for name, array in named:
        arr = np.asarray(array)
        code = _CODES.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype)
        if code is None:
            raise ModelFileError(f"array {name!r} has unsupported dtype {arr.dtype}", hint=f"use one of {sorted(_DTYPES)}")
        if not name or name == "__metadata__" or name in header:
            raise ModelFileError(f"array name {name!r} is empty, reserved or repeated", hint="give every array a unique name")
        blob = np.ascontiguousarray(arr, dtype=np.dtype(_DTYPES[code])).reshape(-1).view(np.uint8)
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + blob.size]}
        blobs.append(blob)
        offset += blob.size
    text = canonical_json(header)
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, blobs


def encode_weights(named: Sequence[tuple[str, np.ndarray]], spec: dict | None = None, lineage: dict | None = None) -> bytes:
    """Canonical bytes of named arrays (order kept), optionally with a task spec and a lineage reference embedded as
    canonical JSON."""
    prefix, blobs = _encode(named, spec, lineage)
    return b"".join([prefix, *blobs])


def _parse(data: bytes, copy: bool = True) -> tuple[dict[str, Any], Named]:
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 8:
        raise ModelFileError("model bytes are shorter than a safetensors header", hint="the download is truncated or not a model")
    data = bytes(data)
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ModelFileError("model header length points past the end of the bytes", hint="the download is truncated or not a model")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError("model header is not JSON", hint="the bytes are not a safetensors model") from None
    if not isinstance(header, dict):
        raise ModelFileError("model header is not a JSON object", hint="the bytes are not a safetensors model")
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n :]
    entries = []
    try:
        for name, info in header.items():
            begin, end = (int(v) for v in info["data_offsets"])
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            entries.append((begin, end, name, dtype, shape))
    except (KeyError, TypeError, ValueError):
        raise ModelFileError("model header has a malformed tensor entry", hint="the bytes are not a fedpm model") from None
    entries.sort()
    named: Named = []
    cursor = 0
    for begin, end, name, dtype, shape in entries:
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if begin != cursor or end - begin != size or end > len(body) or min(shape, default=0) < 0:
            raise ModelFileError(f"tensor {name!r} does not fit its data offsets", hint="the bytes are corrupt")
        named.append((name, np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=copy)))
        cursor = end
    if cursor != len(body):
        raise ModelFileError("model bytes have trailing data after the last tensor", hint="the bytes are corrupt")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError("model metadata is not a map of strings", hint="the bytes are corrupt")
    return meta, named


def decode_weights(data: bytes, *, copy: bool = True) -> Named:
    """Named arrays in their encoded order. Non-canonical or corrupt bytes raise ModelFileError.
    `copy=False`: read-only views into `data` where the byte order allows (no second copy of the model in memory),
    for readers that only read, such as an aggregator streaming updates."""
    meta, named = _parse(data, copy)
    try:
        spec = json.loads(meta["fedpm"]) if "fedpm" in meta else None
        lineage = json.loads(meta[LINEAGE_KEY]) if LINEAGE_KEY in meta else None
    except json.JSONDecodeError:
        raise ModelFileError("model metadata is not JSON", hint="the bytes are corrupt") from None
    # The data is the arrays' bytes back to back (_parse checked each offset), so only the prefix can differ from
    # the canonical encoding of what was read.
    prefix, _ = _encode(named, spec, lineage)
    if bytes(data[: len(prefix)]) != prefix or len(data) != len(prefix) + sum(a.nbytes for _, a in named):
        raise ModelFileError("model bytes are not in canonical form", hint="re-encode them with fl_node.modelfile.encode_weights")
    return named


def decode_spec(data: bytes) -> dict | None:
    """The task spec embedded in the model bytes, or None."""
    meta, _ = _parse(data)
    if "fedpm" not in meta:
        return None
    try:
        return json.loads(meta["fedpm"])
    except json.JSONDecodeError:
        raise ModelFileError("embedded task spec is not JSON", hint="the bytes are corrupt") from None


def decode_lineage(data: bytes) -> dict | None:
    """The lineage reference embedded in the model bytes (an update trained on data with a lineage), or None."""
    meta, _ = _parse(data)
    if LINEAGE_KEY not in meta:
        return None
    try:
        found = json.loads(meta[LINEAGE_KEY])
    except json.JSONDecodeError:
        raise ModelFileError("embedded lineage is not JSON", hint="the bytes are corrupt") from None
    if not isinstance(found, dict):
        raise ModelFileError("embedded lineage is not a JSON object", hint="the bytes are corrupt")
    return found


def model_hash(data: bytes) -> bytes:
    """keccak256 of the canonical bytes: what goes on chain."""
    return keccak(bytes(data))


def save_model(path: str | Path, named: Sequence[tuple[str, np.ndarray]], spec: dict | None = None) -> bytes:
    """Write canonical bytes to a `.safetensors` file; returns the bytes."""
    data = encode_weights(named, spec)
    Path(path).write_bytes(data)
    return data


def load_model(path: str | Path) -> tuple[Named, dict | None]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist", hint="pass the .safetensors file a round produced")
    data = path.read_bytes()
    return decode_weights(data), decode_spec(data)
