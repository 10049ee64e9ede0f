"""Sufficient statistics of tabular data: what a factory shares so the consortium can fix a task's input scaling.

Each party computes `stats_of` over its own rows (count, sum, sum of squares, min, max per column: nothing that
reveals a row) and publishes it; anyone combines the parts with the pure `combine_stats` (exactly rounded
`math.fsum`, so the result does not depend on the order of the parts). The RUL task derives its normalization from
them (`tasks.rul.cmapss.normalization_from_stats`), the bearing task its standardization (`tasks.bearing.classifier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ground.errors import FedpmError


class StatsError(FedpmError):
    """Statistics that cannot be combined: none at all, or parts over different columns."""


@dataclass(frozen=True)
class Stats:
    """Sufficient statistics per column; tuples of floats so they serialize to JSON exactly."""

    columns: tuple[str, ...]
    count: int
    sum: tuple[float, ...]
    sumsq: tuple[float, ...]
    min: tuple[float, ...]
    max: tuple[float, ...]

    def mean(self) -> np.ndarray:
        return np.asarray(self.sum) / self.count

    def std(self) -> np.ndarray:
        var = np.asarray(self.sumsq) / self.count - self.mean() ** 2
        return np.sqrt(np.maximum(var, 0.0))

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "count": self.count, "sum": list(self.sum), "sumsq": list(self.sumsq), "min": list(self.min), "max": list(self.max)}

    @classmethod
    def from_dict(cls, d: dict) -> "Stats":
        return cls(tuple(d["columns"]), int(d["count"]), *(tuple(float(v) for v in d[k]) for k in ("sum", "sumsq", "min", "max")))


def stats_of(rows: np.ndarray, columns: Sequence[str]) -> Stats:
    """What one party publishes about its rows `[n, len(columns)]`: nothing row-level."""
    rows = np.asarray(rows, np.float64)
    return Stats(tuple(columns), len(rows), tuple(rows.sum(0).tolist()), tuple((rows**2).sum(0).tolist()), tuple(rows.min(0).tolist()), tuple(rows.max(0).tolist()))


def combine_stats(parts: Sequence[Stats]) -> Stats:
    """Consortium-wide statistics; exactly rounded sums make the result independent of the parts' order."""
    if not parts:
        raise StatsError("no statistics to combine", hint="collect each party's statistics first (e.g. `fedpm node stats`)")
    cols = parts[0].columns
    if any(p.columns != cols for p in parts):
        raise StatsError("parties computed statistics over different columns", hint="use the columns fixed in the task spec")
    k = range(len(cols))
    return Stats(
        cols,
        sum(p.count for p in parts),
        tuple(math.fsum(p.sum[i] for p in parts) for i in k),
        tuple(math.fsum(p.sumsq[i] for p in parts) for i in k),
        tuple(min(p.min[i] for p in parts) for i in k),
        tuple(max(p.max[i] for p in parts) for i in k),
    )
