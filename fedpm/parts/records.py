"""A produced part's record and its canonical bytes (pure, no I/O).

The record says what the customer of a part needs to trust its quality: the part id, the machine and process step
that made it, the time span, the device-signed sensor batches that cover the production (each batch's summary:
device, block sequence range, readings, time span, Merkle root; and the root of roots it is anchored under), the
machine's maintenance state at the start (the latest maintenance record hash on chain, audited), and optionally the
global model round and the health it predicted. keccak256 of its canonical JSON (`ground.canonical`) is what the
machine's operator anchors in PartRegistry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from fedpm.sensors.anchoring import BatchSummary
from ground.canonical import canonical_json
from ground.errors import FedpmError
from ground.ids import hex0x, to_bytes32

MAX_STEP = 64


class PartRecordError(FedpmError):
    """A part record that is malformed or inconsistent."""


def _hash32(text: Any) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x") or len(text) != 66:
        raise ValueError(f"{text!r} is not a 0x-prefixed 32-byte hex hash")
    return bytes.fromhex(text[2:])


def _hash_text(text: Any) -> str:
    return hex0x(_hash32(text))


@dataclass(frozen=True)
class BatchRef:
    """A batch of device-signed blocks covering the production, and the root of roots it is anchored under."""

    summary: BatchSummary
    anchor_root: bytes

    def to_json(self) -> dict[str, Any]:
        return {**self.summary.to_json(), "anchor_root": hex0x(self.anchor_root)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "BatchRef":
        return cls(BatchSummary.from_json(d), _hash32(d["anchor_root"]))


@dataclass(frozen=True)
class MaintenanceRef:
    """The machine's latest maintenance entry at the part's start: its record hash and position in the history."""

    record_hash: str
    index: int

    def to_json(self) -> dict[str, Any]:
        return {"record_hash": self.record_hash, "index": self.index}


@dataclass(frozen=True)
class ModelRef:
    """The global model in service when the part was made, and the health it predicted (optional)."""

    task: int
    round: int
    model_hash: str
    predicted_rul: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "round": self.round, "model_hash": self.model_hash, "predicted_rul": self.predicted_rul}


@dataclass(frozen=True)
class PartRecord:
    part: str
    machine: str
    step: str
    start_ms: int
    end_ms: int
    batches: tuple[BatchRef, ...]
    maintenance: MaintenanceRef | None = None
    model: ModelRef | None = None

    def __post_init__(self) -> None:
        problems = []
        for name in ("part", "machine"):
            try:
                to_bytes32(getattr(self, name))
            except FedpmError as exc:
                problems.append(f"{name}: {exc.message}")
        if not isinstance(self.step, str) or not 0 < len(self.step) <= MAX_STEP:
            problems.append(f"process step must be 1..{MAX_STEP} characters")
        if not (type(self.start_ms) is int and type(self.end_ms) is int and 0 <= self.start_ms <= self.end_ms):
            problems.append("the time span must be integer epoch ms with start <= end")
        if not self.batches:
            problems.append("no sensor batch covers the part")
        if any(b.summary.machine != self.machine for b in self.batches):
            problems.append("a referenced batch is of another machine")
        if problems:
            raise PartRecordError(f"part record {self.part!r}: {'; '.join(problems)}", hint="record the part from anchored sensor data of its machine")

    @property
    def part_id(self) -> bytes:
        return to_bytes32(self.part)

    def to_json(self) -> dict[str, Any]:
        return {"v": 1, "part": self.part, "machine": self.machine, "step": self.step, "start_ms": self.start_ms, "end_ms": self.end_ms,
                "batches": [b.to_json() for b in self.batches], "maintenance": self.maintenance.to_json() if self.maintenance else None,
                "model": self.model.to_json() if self.model else None}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def hash(self) -> str:
        return hex0x(keccak(self.canonical()))

    @classmethod
    def from_json(cls, d: Any) -> "PartRecord":
        """Strict: raises PartRecordError naming what is wrong."""
        try:
            if not isinstance(d, dict) or d.get("v") != 1:
                raise ValueError("not a version 1 part record")
            m, mo = d.get("maintenance"), d.get("model")
            maintenance = None if m is None else MaintenanceRef(_hash_text(m["record_hash"]), int(m["index"]))
            model = None if mo is None else ModelRef(int(mo["task"]), int(mo["round"]), _hash_text(mo["model_hash"]),
                                                      None if mo.get("predicted_rul") is None else float(mo["predicted_rul"]))
            return cls(d["part"], d["machine"], d["step"], d["start_ms"], d["end_ms"], tuple(BatchRef.from_json(b) for b in d["batches"]), maintenance, model)
        except (KeyError, TypeError, ValueError) as exc:
            raise PartRecordError(f"malformed part record: {exc}", hint="pass the record or passport `fedpm part` wrote") from None


def coverage_gaps(record: PartRecord) -> list[str]:
    """What is missing from the sensor data the record references (empty: nothing): per device, holes in the block
    sequence (within a batch, or between consecutive batches), and the part's time span outside every batch."""
    gaps: list[str] = []
    by_device: dict[str, list[BatchSummary]] = {}
    for b in record.batches:
        by_device.setdefault(b.summary.device, []).append(b.summary)
    for device, batches in sorted(by_device.items()):
        batches.sort(key=lambda s: s.first_seq)
        for s in batches:
            if not s.gap_free:
                gaps.append(f"device {device} seq {s.first_seq}..{s.last_seq} holds {s.blocks} of {s.last_seq - s.first_seq + 1} blocks")
        for a, b in zip(batches, batches[1:]):
            if b.first_seq != a.last_seq + 1:
                gaps.append(f"device {device} seq {a.last_seq + 1}..{b.first_seq - 1} missing" if b.first_seq > a.last_seq + 1
                            else f"device {device} seqs {b.first_seq}..{a.last_seq} referenced twice")
    spans = [(b.summary.from_time, b.summary.to_time) for b in record.batches]
    if spans and (min(s for s, _ in spans) > record.start_ms or max(e for _, e in spans) < record.end_ms):
        gaps.append(f"the batches span {min(s for s, _ in spans)}..{max(e for _, e in spans)} ms, not the part's {record.start_ms}..{record.end_ms}")
    return gaps
