"""Maintenance records and their canonical, hashable form (pure: no I/O).

A record is what a technician writes about one event on one machine. Only its hash goes on chain
(contract MaintenanceLog); the record stays with the organization that wrote it. Corrections are new
records whose `corrects` names the hash of the record they correct: history is appended, never rewritten.

Canonical encoding (version 1), the bytes that are hashed:

- a JSON object with exactly the keys `v, machine, time, kind, component, description, technician_org,
  technician, attachments, corrects`, serialized with keys sorted, separators `,` and `:` (no whitespace),
  non-ASCII characters kept as UTF-8 (not `\\u` escapes), encoded as UTF-8;
- `v` is the integer 1; `time` an integer (unix seconds, UTC); `kind` one of `fault`, `maintenance`,
  `inspection`, `part_replacement`;
- every text is Unicode NFC-normalized and stripped of surrounding whitespace;
- `attachments` is a list of lowercase `0x`-prefixed 32-byte hex hashes (keccak256 of the attachment's
  bytes), sorted and without duplicates; `corrects` is such a hash or `null`;
- `answers`, only in a record that answers an alert of the prediction service: the alert's id (keccak256 of its
  canonical bytes, `fedpm.prognostics.alerts.Alert.id`), such a hash. A record without it has exactly the keys
  above, so records written before the field existed keep their bytes and hashes.

The record hash is keccak256 of those bytes, written as `0x` + 64 lowercase hex digits.
"""

from __future__ import annotations

import enum
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable


from ground.canonical import canonical_json
from ground.errors import FedpmError
from ground.ids import hex0x

CANONICAL_VERSION = 1
MAX_TEXT = 4096
_HASH_RE = re.compile(r"^0x[0-9a-f]{64}$")
_KEYS = ("attachments", "component", "corrects", "description", "kind", "machine", "technician", "technician_org", "time", "v")
_OPTIONAL = ("answers",)  # present only when set


class InvalidRecord(FedpmError):
    """A maintenance record is malformed."""


class Kind(enum.IntEnum):
    """Mirrors IMaintenanceLog.Kind (on chain the value is the uint8 below)."""

    FAULT = 0
    MAINTENANCE = 1
    INSPECTION = 2
    PART_REPLACEMENT = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | "Kind") -> "Kind":
        if isinstance(text, Kind):
            return text
        key = str(text).strip().upper().replace("-", "_").replace(" ", "_")
        if key not in cls.__members__:
            raise InvalidRecord(f"unknown record kind {text!r}", hint=f"use one of {', '.join(k.label for k in cls)}")
        return cls[key]


def _text(name: str, value: Any, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidRecord(f"{name} must be text, not {type(value).__name__}", hint=f"give {name} as a string")
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise InvalidRecord(f"{name} is empty", hint=f"give a {name}")
    if len(text) > MAX_TEXT:
        raise InvalidRecord(f"{name} is longer than {MAX_TEXT} characters", hint="attach long documents by hash instead")
    return text


def normalize_hash(value: Any, name: str = "hash") -> str:
    """`0x` + 64 lowercase hex digits, from str or bytes; raises InvalidRecord otherwise."""
    if isinstance(value, (bytes, bytearray)) and len(value) == 32:
        return hex0x(value)
    text = str(value).strip().lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if not _HASH_RE.match(text):
        raise InvalidRecord(f"{name} {value!r} is not a 32-byte hex hash", hint="use 0x followed by 64 hex digits")
    return text


def _keccak(data: bytes) -> bytes:
    # eth-hash loads here, not at import: it reads its version through importlib.metadata (~0.1 s that
    # `fedpm --help`, which imports this module for the record kinds, need not pay)
    from eth_hash.auto import keccak

    return keccak(data)


def attachment_hash(data: bytes) -> str:
    """The hash a record stores for an attachment: keccak256 of its bytes."""
    return hex0x(_keccak(data))


@dataclass(frozen=True)
class Record:
    machine: str
    time: int
    kind: Kind
    component: str
    description: str
    technician_org: str
    technician: str  # a pseudonym, never a personal name
    attachments: tuple[str, ...] = field(default_factory=tuple)
    corrects: str | None = None
    answers: str | None = None  # id of the alert this record answers

    def __post_init__(self) -> None:
        # normalize in place so equal records compare equal and hash equally
        set_ = object.__setattr__
        set_(self, "machine", _text("machine", self.machine))
        if isinstance(self.time, bool) or not isinstance(self.time, int) or not 0 <= self.time < 2**64:
            raise InvalidRecord(f"time {self.time!r} is not a unix time in seconds", hint="give an integer number of seconds since 1970 (UTC)")
        set_(self, "kind", Kind.parse(self.kind))
        set_(self, "component", _text("component", self.component))
        set_(self, "description", _text("description", self.description))
        set_(self, "technician_org", _text("technician_org", self.technician_org))
        set_(self, "technician", _text("technician", self.technician))
        set_(self, "attachments", tuple(sorted({normalize_hash(a, "attachment") for a in self.attachments})))
        if self.corrects is not None:
            set_(self, "corrects", normalize_hash(self.corrects, "corrects"))
        if self.answers is not None:
            set_(self, "answers", normalize_hash(self.answers, "answers"))

    def to_json(self) -> dict[str, Any]:
        return {"v": CANONICAL_VERSION, "machine": self.machine, "time": self.time, "kind": self.kind.label,
                "component": self.component, "description": self.description, "technician_org": self.technician_org,
                "technician": self.technician, "attachments": list(self.attachments), "corrects": self.corrects,
                **({"answers": self.answers} if self.answers is not None else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Record":
        if not isinstance(data, dict):
            raise InvalidRecord("a record must be a JSON object", hint="see fedpm/maintenance/records.py for the format")
        if data.get("v") != CANONICAL_VERSION:
            raise InvalidRecord(f"unsupported record version {data.get('v')!r}", hint=f"this fedpm reads version {CANONICAL_VERSION}")
        extra = set(data) - set(_KEYS) - set(_OPTIONAL)
        missing = set(_KEYS) - set(data)
        if extra or missing:
            raise InvalidRecord(f"record keys differ from the format (missing {sorted(missing)}, unexpected {sorted(extra)})", hint="see fedpm/maintenance/records.py")
        return cls(machine=data["machine"], time=data["time"], kind=Kind.parse(data["kind"]), component=data["component"],
                   description=data["description"], technician_org=data["technician_org"], technician=data["technician"],
                   attachments=tuple(data["attachments"] or ()), corrects=data["corrects"], answers=data.get("answers"))

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(self)

    @property
    def hash(self) -> str:
        return record_hash(self)


def canonical_bytes(record: Record) -> bytes:
    return canonical_json(record.to_json(), ensure_ascii=False)


def record_hash(record: Record) -> str:
    return hex0x(_keccak(canonical_bytes(record)))


def parse_canonical(raw: bytes | str) -> Record:
    """Read a record from its stored JSON (any JSON layout; re-encode with `canonical_bytes` to hash it)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidRecord(f"record is not valid JSON: {exc}", hint="the local record store may be damaged") from None
    return Record.from_json(data)


def correction_of(original: Record, *, time: int, description: str, technician: str, technician_org: str | None = None,
                  component: str | None = None, kind: Kind | None = None, attachments: Iterable[str] = ()) -> Record:
    """A new record correcting `original` (the original stays; the correction points at its hash, and answers the alert
    the original answered, if any)."""
    return Record(machine=original.machine, time=time, kind=kind or original.kind, component=component or original.component,
                  description=description, technician_org=technician_org or original.technician_org, technician=technician,
                  attachments=tuple(attachments), corrects=original.hash, answers=original.answers)
