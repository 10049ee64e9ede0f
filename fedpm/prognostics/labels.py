"""Run-to-failure histories from service data: a recorded failure closes a machine's history, and its verified
cycles up to the event become labeled training data (true remaining life per cycle) for the factory's trainer.

The event is a maintenance record of kind `fault` or `part_replacement` whose hash verifies on chain (the audit says
`verified`); the history is the machine's verified cycles after the previous such event up to this one. A history
with unverified batches or gaps is refused: labels must not be guessed across missing cycles. `write_training_file`
writes the histories in NASA's C-MAPSS layout (one unit per history, its last cycle the failure), which
`fedpm node train --data` reads: the RUL task labels each cycle `last cycle - cycle`, the true remaining life.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chain.connect import ChainContext
from fedpm.maintenance.audit import AuditReport, Status
from fedpm.maintenance.client import MaintenanceLog, audit_machine
from fedpm.maintenance.records import Kind, Record
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.prognostics.windows import cycles_of
from fedpm.sensors.feed import BatchRef, MachineData, VerifiedFeed
from ground.errors import FedpmError
from tasks.rul import cmapss

CLOSING = (Kind.FAULT, Kind.PART_REPLACEMENT)


class LabelError(FedpmError):
    """No labeled history can be built."""


class NoHistory(LabelError):
    """No verified cycles before a closing event (the machine streamed nothing before it)."""


@dataclass(frozen=True)
class LabeledHistory:
    machine: str
    event: str  # hash of the record that closed the history
    event_time: int  # unix seconds
    ts: np.ndarray  # [n] cycle timestamps (ms)
    rows: np.ndarray  # [n, len(FEATURE_COLUMNS)] raw cycles
    rul: np.ndarray  # [n] true remaining cycles: n-1 .. 0
    batches: tuple[BatchRef, ...]

    def to_json(self, rows: int = 3) -> dict[str, Any]:
        return {"machine": self.machine, "event": self.event, "event_time": self.event_time, "cycles": int(len(self.ts)),
                "first": [{"ts": int(t), "true_rul": float(r)} for t, r in zip(self.ts[:rows], self.rul[:rows])],
                "last": [{"ts": int(t), "true_rul": float(r)} for t, r in zip(self.ts[-rows:], self.rul[-rows:])],
                "batches": len(self.batches)}


def closing_events(report: AuditReport) -> list[Record]:
    """The machine's failures and component replacements whose records verify on chain, in time order (a correction
    describes the event it corrects, not a new one)."""
    found = [i.local.record for i in report.items if i.status is Status.VERIFIED and i.local and i.local.record and i.local.record.kind in CLOSING
             and i.local.record.corrects is None]
    return sorted(found, key=lambda r: r.time)


def labeled_history(data: MachineData, event: Record, after: Record | None = None) -> LabeledHistory:
    """The verified cycles of `data` after `after` (the previous closing event) up to `event`, labeled."""
    end_ms, start_ms = event.time * 1000, (after.time * 1000 if after else -1)
    ts, rows, incomplete = cycles_of(data, cmapss.FEATURE_COLUMNS)
    keep = (ts > start_ms) & (ts <= end_ms)
    ts, rows = ts[keep], rows[keep]
    if len(ts) < 2:
        raise NoHistory(f"{data.machine}: {len(ts)} verified cycle(s) before the {event.kind.label} at {event.time}",
                         hint="stream the machine's data through the gateway before recording its failure")
    lo, hi = int(ts[0]), int(ts[-1])
    bad = [p for p in data.problems if p.overlaps(lo, hi)] or [None for t in incomplete if lo <= t <= hi][:1]
    if bad:
        what = bad[0].detail if bad[0] is not None else "a cycle lacks a channel"
        raise LabelError(f"{data.machine}: the history up to {event.hash[:12]}… has missing or unverified data ({what})",
                         hint="labels are not guessed across gaps; train on the verified history of another failure")
    rul = np.arange(len(ts) - 1, -1, -1, dtype=np.float64)
    return LabeledHistory(data.machine, event.hash, event.time, ts, rows, rul, tuple(data.refs_between(lo, hi)))


def write_training_file(histories: Sequence[LabeledHistory], path: Path) -> Path:
    """The histories in NASA's layout, one unit each (units 1..k), ready for `fedpm node train --data`."""
    if not histories:
        raise LabelError("no labeled history to write", hint="record a failure (fedpm maintenance add --kind fault) of a machine with verified data")
    engines = cmapss.Engines(tuple(range(1, len(histories) + 1)), tuple(h.rows[:, :] for h in histories))
    return cmapss.write_file(engines, path)


def histories_of(home: Path, ctx: ChainContext, feed: VerifiedFeed, machine: str) -> list[LabeledHistory]:
    """Every run-to-failure history of `machine`: its verified cycles between consecutive closing events whose records
    verify on chain (the maintenance audit of `home`'s records against the MaintenanceLog)."""
    with RecordStore(record_store_path(home)) as store:
        report = audit_machine(MaintenanceLog(ctx), store, machine)
    events = closing_events(report)
    if not events:
        raise LabelError(f"{machine} has no failure or component replacement recorded and verified on chain",
                         hint="record it: fedpm maintenance add --kind fault|part_replacement (and audit it)")
    data = feed.read(machine)
    found = []
    for i, e in enumerate(events):
        try:
            found.append(labeled_history(data, e, events[i - 1] if i else None))
        except NoHistory:
            continue  # the machine streamed nothing before this event
    if not found:
        raise NoHistory(f"{machine}: no verified cycles before any of its {len(events)} recorded failure(s)",
                        hint="stream the machine's data through the gateway before recording its failure")
    return found
