"""NASA C-MAPSS turbofan data: loading, federated normalization, windows, RUL labels, test protocol.

A file holds rows `unit cycle setting1..3 sensor1..21` separated by any whitespace. Training rows are labelled
with RUL = last cycle of the unit - cycle, capped at `rul_cap` (piecewise-linear: a healthy engine's remaining
life is not observable, so early cycles all get the cap).

Normalization is fixed in the task spec so every factory and every evaluator scales inputs identically. It is
derived federatedly: each factory computes `local_stats` over its own rows (sufficient statistics that reveal no
row, `tasks.stats`), publishes them, and anyone combines them with `tasks.stats.combine_stats`.
`select_features` then drops columns that are (near-)constant across the consortium and `normalization_from_stats`
freezes the per-feature offsets/scales that go into the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ground.errors import FedpmError
from tasks.stats import Stats, stats_of

SETTINGS = ("setting1", "setting2", "setting3")
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COLUMNS = ("unit", "cycle") + SETTINGS + SENSORS
FEATURE_COLUMNS = SETTINGS + SENSORS  # candidates for model input
RUL_CAP = 125
WINDOW = 50  # cycles per model input; 50 beat 30 on bench/fl_accuracy.py (tasks/model.py says by how much)


class CmapssDataError(FedpmError):
    """A C-MAPSS data file is missing or malformed."""


@dataclass(frozen=True)
class Engines:
    """Rows of one C-MAPSS file, grouped by unit in ascending unit order (each unit's rows by cycle)."""

    units: tuple[int, ...]
    series: tuple[np.ndarray, ...]  # per unit: float64 [cycles, len(FEATURE_COLUMNS)]

    def subset(self, units: Iterable[int]) -> "Engines":
        index = {u: i for i, u in enumerate(self.units)}
        picked = sorted(set(units))
        missing = [u for u in picked if u not in index]
        if missing:
            raise CmapssDataError(f"units {missing[:5]} are not in the data", hint="pick units from Engines.units")
        return Engines(tuple(picked), tuple(self.series[index[u]] for u in picked))

    def lives(self) -> dict[int, int]:
        return {u: len(s) for u, s in zip(self.units, self.series)}


def parse_rows(table: np.ndarray, source: str = "data") -> Engines:
    """Group a [rows, 26] table into engines; checks unit/cycle integrity."""
    if table.ndim != 2 or table.shape[1] != len(COLUMNS) or len(table) == 0:
        raise CmapssDataError(f"{source}: expected rows of {len(COLUMNS)} numbers (unit, cycle, 3 settings, 21 sensors), got shape {table.shape}", hint="pass a NASA C-MAPSS train_FDxxx.txt or test_FDxxx.txt file")
    if not np.all(np.isfinite(table)):
        raise CmapssDataError(f"{source}: contains NaN or infinite values", hint="repair or re-download the file")
    ids, cycles = table[:, 0], table[:, 1]
    if np.any(ids != np.round(ids)) or np.any(cycles != np.round(cycles)) or np.any(ids < 1) or np.any(cycles < 1):
        raise CmapssDataError(f"{source}: unit and cycle columns must be positive integers", hint="check the column order: unit, cycle, settings, sensors")
    units, series = [], []
    for unit in np.unique(ids.astype(np.int64)):
        rows = table[ids == unit]
        if np.any(np.diff(rows[:, 1]) <= 0):
            raise CmapssDataError(f"{source}: unit {unit} has cycles out of order", hint="rows of a unit must be sorted by increasing cycle")
        units.append(int(unit))
        series.append(np.ascontiguousarray(rows[:, 2:], dtype=np.float64))
    return Engines(tuple(units), tuple(series))


def load_file(path: str | Path) -> Engines:
    """Load a C-MAPSS train or test file (any whitespace separates fields)."""
    path = Path(path)
    if not path.is_file():
        raise CmapssDataError(f"C-MAPSS file {path} does not exist", hint="download NASA's CMAPSSData and pass the path of train_FD001.txt")
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise CmapssDataError(f"{path} is not a C-MAPSS table: {str(exc).splitlines()[0]}", hint="each row needs 26 whitespace-separated numbers") from None
    return parse_rows(table, str(path))


def load_rul_file(path: str | Path) -> np.ndarray:
    """One true RUL per test engine, in unit order."""
    path = Path(path)
    if not path.is_file():
        raise CmapssDataError(f"RUL file {path} does not exist", hint="pass the RUL_FDxxx.txt that belongs to the test file")
    try:
        rul = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise CmapssDataError(f"{path} is not a RUL file: {str(exc).splitlines()[0]}", hint="one non-negative number per line") from None
    if rul.shape[1] != 1 or np.any(rul < 0) or not np.all(np.isfinite(rul)):
        raise CmapssDataError(f"{path}: expected one non-negative RUL per line, got shape {rul.shape}", hint="one number per line, in test-unit order")
    return rul[:, 0]


# --- federated normalization -------------------------------------------------------------------------------


def local_stats(engines: Engines, columns: Sequence[str] = FEATURE_COLUMNS) -> Stats:
    """What one factory publishes about its rows: nothing row-level."""
    idx = [FEATURE_COLUMNS.index(c) for c in columns]
    return stats_of(np.concatenate(engines.series)[:, idx], columns)


def select_features(stats: Stats, min_std: float = 0.01) -> tuple[str, ...]:
    """Drop (near-)constant columns: they carry no degradation signal and would divide by ~0 when scaled.

    On FD001, min_std=0.01 keeps the 14 usual sensors (s2 s3 s4 s7 s8 s9 s11 s12 s13 s14 s15 s17 s20 s21)."""
    std = stats.std()
    return tuple(c for c, s in zip(stats.columns, std) if s > min_std)


@dataclass(frozen=True)
class Normalization:
    """x_scaled = (x - offset) / scale per feature; part of the task spec, so every party scales identically."""

    features: tuple[str, ...]
    kind: str  # "minmax" (offset=min, scale=max-min) or "zscore" (offset=mean, scale=std)
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    def apply(self, series: np.ndarray) -> np.ndarray:
        """series: [.., len(FEATURE_COLUMNS)] raw rows -> [.., len(features)] float32."""
        idx = [FEATURE_COLUMNS.index(c) for c in self.features]
        return ((series[..., idx] - np.asarray(self.offset)) / np.asarray(self.scale)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"features": list(self.features), "kind": self.kind, "offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Normalization":
        """The task spec's normalization, numbers kept as given (the spec's bytes are hashed); exactly the fields
        features, kind, offset, scale, else CmapssDataError."""
        fields_ok = isinstance(d, Mapping) and set(d) == {"features", "kind", "offset", "scale"}
        if not (fields_ok and _list_of(d["features"], str) and _list_of(d["offset"], (int, float)) and _list_of(d["scale"], (int, float))):
            raise CmapssDataError("task spec normalization is malformed", hint="give exactly features (column names), kind, offset and scale (lists of numbers)")
        norm = cls(tuple(d["features"]), d["kind"], tuple(d["offset"]), tuple(d["scale"]))
        unknown = [f for f in norm.features if f not in FEATURE_COLUMNS]
        if norm.kind not in ("minmax", "zscore") or unknown or not norm.features or not (len(norm.features) == len(norm.offset) == len(norm.scale)) or any(s <= 0 for s in norm.scale):
            raise CmapssDataError("task spec normalization is malformed", hint="features from C-MAPSS columns, kind minmax|zscore, one positive scale per feature")
        return norm


def _list_of(value: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value) and \
        all(math.isfinite(v) for v in value if isinstance(v, float))


def normalization_from_stats(stats: Stats, features: Sequence[str], kind: str = "zscore") -> Normalization:
    if kind not in ("minmax", "zscore"):
        raise CmapssDataError(f"unknown normalization {kind!r}", hint="use minmax or zscore")
    idx = [stats.columns.index(f) for f in features]
    if kind == "zscore":
        offset, scale = stats.mean()[idx], stats.std()[idx]
    else:
        offset, scale = np.asarray(stats.min)[idx], np.asarray(stats.max)[idx] - np.asarray(stats.min)[idx]
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature maps to 0 instead of dividing by zero
    return Normalization(tuple(features), kind, tuple(offset.tolist()), tuple(scale.tolist()))


# --- windows and labels ------------------------------------------------------------------------------------


def rul_labels(life: int, rul_cap: int = RUL_CAP, rul_at_end: float = 0.0) -> np.ndarray:
    """Capped RUL of each cycle of a series that ends `rul_at_end` cycles before failure."""
    return np.minimum(np.arange(life - 1, -1, -1, dtype=np.float64) + rul_at_end, rul_cap)


def pad_front(series: np.ndarray, window: int) -> np.ndarray:
    """Engines shorter than the window: repeat the first row in front (the engine looked new before)."""
    short = window - len(series)
    return series if short <= 0 else np.concatenate([np.repeat(series[:1], short, axis=0), series])


def training_windows(engines: Engines, norm: Normalization, window: int = WINDOW, rul_cap: int = RUL_CAP) -> tuple[np.ndarray, np.ndarray]:
    """Every window of `window` consecutive cycles (short engines padded), labelled with the capped RUL at its last cycle.

    Returns x float32 [n, window, features], y float32 [n]."""
    xs, ys = [], []
    for series in engines.series:
        labels = rul_labels(len(series), rul_cap)
        scaled = pad_front(norm.apply(series), window)
        labels = np.concatenate([np.full(len(scaled) - len(labels), labels[0]), labels])
        view = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)  # [n, features, window]
        xs.append(np.transpose(view, (0, 2, 1)))
        ys.append(labels[window - 1 :])
    nfeat = len(norm.features)
    x = np.concatenate(xs).astype(np.float32) if xs else np.zeros((0, window, nfeat), np.float32)
    y = np.concatenate(ys).astype(np.float32) if ys else np.zeros((0,), np.float32)
    return x, y


def last_windows(engines: Engines, norm: Normalization, window: int = WINDOW) -> np.ndarray:
    """Test protocol: the last `window` cycles of each engine, in unit order, short engines padded."""
    nfeat = len(norm.features)
    if not engines.units:
        return np.zeros((0, window, nfeat), np.float32)
    return np.stack([pad_front(norm.apply(s), window)[-window:] for s in engines.series]).astype(np.float32)


# --- making test files from held-out training engines ------------------------------------------------------


def _fmt(v: float) -> str:
    return repr(float(v))  # shortest text that round-trips the float64


def truncate_engines(engines: Engines, seed: int, min_cycles: int = 20) -> tuple[Engines, np.ndarray]:
    """Cut each run-to-failure engine at a random cycle in [min_cycles, life-1]; returns test engines and true RUL."""
    rng = np.random.default_rng(seed)
    kept, rul = [], []
    for series in engines.series:
        life = len(series)
        lo = min(min_cycles, life - 1)
        keep = int(rng.integers(max(lo, 1), life)) if life > 1 else 1
        kept.append(series[:keep])
        rul.append(life - keep)
    return Engines(engines.units, tuple(kept)), np.asarray(rul, dtype=np.float64)


def write_file(engines: Engines, path: str | Path, *, renumber: bool = False) -> Path:
    """Write engines in NASA's layout (unit, cycle, settings, sensors), floats exact; `renumber` makes units 1..n."""
    lines = []
    for i, (unit, series) in enumerate(zip(engines.units, engines.series), start=1):
        for cycle, row in enumerate(series, start=1):
            lines.append(" ".join([str(i if renumber else unit), str(cycle)] + [_fmt(v) for v in row]))
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_test_files(engines: Engines, test_path: str | Path, rul_path: str | Path, seed: int, min_cycles: int = 20) -> dict[int, int]:
    """Write a NASA-format test file + RUL file from held-out run-to-failure engines.

    Test units are renumbered 1..n in ascending original-unit order (as NASA's files are). Returns {test unit: original unit}."""
    test, rul = truncate_engines(engines, seed, min_cycles)
    write_file(test, test_path, renumber=True)
    Path(rul_path).write_text("\n".join(str(int(r)) for r in rul) + "\n")
    return {i: u for i, u in enumerate(engines.units, start=1)}
