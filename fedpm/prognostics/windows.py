"""A machine's model input from its verified readings, or the reason there is none (pure: no I/O).

A C-MAPSS-like machine reports one *cycle* per timestamp: every channel (settings and sensors) stamped alike. A cycle
counts only when it carries every feature the model reads; the input is the last `window` such cycles, normalized as
the task spec says. No prediction, and a reason, when:

- `no-data`: no verified reading of the model's features;
- `too-few`: fewer verified cycles than the window;
- `unverified`: a batch from the window's start on fails verification (its readings are left out, so the window would
  silently skip them, or end before the newest data);
- `gap`: blocks the gateway never received from the window's start on, a cycle missing a feature inside the window,
  or a step between cycles well above the machine's cadence (cycles missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fedpm.sensors.feed import BatchRef, MachineData, Problem
from tasks.rul.cmapss import FEATURE_COLUMNS, Normalization

CADENCE_SLACK = 1.5  # a step above 1.5 x the median step between cycles means cycles are missing


@dataclass(frozen=True)
class Window:
    x: np.ndarray  # float32 [window, features], normalized
    from_ms: int  # first and last cycle of the window
    to_ms: int
    cycles: int  # verified complete cycles read (the reader may read only the newest few windows' worth)
    batches: tuple[BatchRef, ...]  # the anchored batches the window's readings come from

    def span_json(self) -> dict[str, Any]:
        return {"from_ms": self.from_ms, "to_ms": self.to_ms, "cycles": int(self.x.shape[0])}


@dataclass(frozen=True)
class NoWindow:
    reason: str  # no-data | too-few | unverified | gap | wrong-class | unknown-machine
    detail: str
    cycles: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "detail": self.detail, "cycles": self.cycles}


def cycles_of(data: MachineData, features: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(timestamps, rows [n, len(FEATURE_COLUMNS)] with the features filled, timestamps of incomplete cycles),
    complete cycles in time order."""
    wanted = {f: FEATURE_COLUMNS.index(f) for f in features}
    by_ts: dict[int, dict[str, float]] = {}
    for r in data.readings:
        if r.channel in wanted:
            by_ts.setdefault(r.ts_ms, {})[r.channel] = r.value
    complete = sorted(ts for ts, vals in by_ts.items() if len(vals) == len(wanted))
    incomplete = sorted(ts for ts, vals in by_ts.items() if len(vals) != len(wanted))
    rows = np.zeros((len(complete), len(FEATURE_COLUMNS)), np.float64)
    for i, ts in enumerate(complete):
        vals = by_ts[ts]
        for f, j in wanted.items():
            rows[i, j] = vals[f]
    return np.asarray(complete, np.int64), rows, incomplete


def build_window(data: MachineData, norm: Normalization, window: int) -> Window | NoWindow:
    """The model input of the machine's newest verified cycles, or why there is none."""
    ts, rows, incomplete = cycles_of(data, norm.features)
    n = len(ts)
    if n == 0:
        blocking = _first(data.problems)
        if blocking is not None:
            return NoWindow(blocking.kind, blocking.detail)
        return NoWindow("no-data", f"no verified reading of the model's {len(norm.features)} features")
    if n < window:
        return NoWindow("too-few", f"{n} verified cycle(s), the model needs {window}", n)
    lo, hi = int(ts[n - window]), int(ts[-1])
    late = [p for p in data.problems if p.overlaps(lo, 2**63)]
    if late:
        p = sorted(late, key=lambda q: (q.kind != "unverified", q.from_ms or 0))[0]
        return NoWindow(p.kind, f"{p.detail}, from the window's start on", n)
    holes = [t for t in incomplete if t >= lo]
    if holes:
        return NoWindow("gap", f"{len(holes)} cycle(s) in the window lack a feature (first at {holes[0]} ms)", n)
    steps = np.diff(ts[n - window :])
    cadence = float(np.median(np.diff(ts))) if n > 1 else 0.0
    if cadence > 0 and len(steps) and steps.max() > CADENCE_SLACK * cadence:
        at = int(ts[n - window + 1 + int(steps.argmax())])
        return NoWindow("gap", f"cycles missing before {at} ms: a step of {int(steps.max())} ms, the cadence is {int(cadence)} ms", n)
    x = norm.apply(rows[n - window :])
    return Window(x, lo, hi, n, tuple(data.refs_between(lo, hi)))


def _first(problems: Sequence[Problem]) -> Problem | None:
    return sorted(problems, key=lambda q: (q.kind != "unverified", q.from_ms or 0))[0] if problems else None
