"""Canonical JSON: one byte string per value, in any process (hashes of it go on chain).

Keys sorted, separators `,` and `:` (no whitespace), NaN and infinities refused. `ensure_ascii=True` (the default)
escapes non-ASCII characters as `\\uXXXX`; `ensure_ascii=False` keeps them as UTF-8 (maintenance records, whose
format says so). Normalizing the values themselves (NFC text, sorted lists) is the caller's format.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any, *, ensure_ascii: bool = True) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, allow_nan=False).encode("utf-8")
