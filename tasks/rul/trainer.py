"""The RUL task's trainer: a factory's C-MAPSS data, windowed and normalized as the task spec says, trained by the
one Keras local update (`tasks.model.KerasTrainer`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tasks.model import KerasTrainer
from tasks.rul import cmapss

KIND = "cmapss_rul"


class DataSource(Protocol):
    """A factory's local training data, shaped by the task spec (window, normalization)."""

    def load(self, spec: dict) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class CmapssFile:
    path: Path

    def load(self, spec: dict) -> tuple[np.ndarray, np.ndarray]:
        return windows(cmapss.load_file(self.path), spec)


def windows(engines: cmapss.Engines, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Training windows and capped RUL of `engines` as the spec shapes them."""
    norm = cmapss.Normalization.from_dict(spec["normalization"])
    return cmapss.training_windows(engines, norm, int(spec["window"]), int(spec["rul_cap"]), float(spec.get("age_scale", 0.0)))


def trainer_for(spec: dict, source: DataSource) -> KerasTrainer:
    return KerasTrainer(spec, *source.load(spec))
