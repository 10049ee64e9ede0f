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


def readable_bytes32(value: bytes) -> str | None:
    """The identifier in `value` if it is one `to_bytes32` makes (printable text, zero-padded on the right), else
    None (a hash, a root): error messages name orgs and machines rather than print their hex."""
    raw = bytes(value)
    text = raw.rstrip(b"\0")
    if len(raw) != 32 or not text or len(text) > 31 or b"\0" in text:
        return None
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        return None
    return decoded if decoded.isprintable() else None


def hex0x(raw: bytes) -> str:
    """`0x` + lowercase hex of the bytes."""
    return "0x" + bytes(raw).hex()
