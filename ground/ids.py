"""Readable bytes32 identifiers (UTF-8 text, zero-padded on the right) and 0x-hex.

An explorer can show `press-07` rather than a hash, and the mapping is exact both ways.
"""

from __future__ import annotations

from ground.errors import FedpmError


def to_bytes32(text: str) -> bytes:
    raw = text.encode()
    if not raw or len(raw) > 31 or b"\0" in raw:
        raise FedpmError(f"identifier {text!r} must be 1 to 31 bytes of text", hint="choose a shorter name")
    return raw.ljust(32, b"\0")


def from_bytes32(value: bytes) -> str:
    return bytes(value).rstrip(b"\0").decode(errors="replace")


def hex0x(raw: bytes) -> str:
    """`0x` + lowercase hex of the bytes."""
    return "0x" + bytes(raw).hex()
