"""The RUL task's trainer: a factory's C-MAPSS data, windowed and normalized as the task spec says, trained by the
one Keras local update (`tasks.model.KerasTrainer`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from tasks.model import KerasTrainer
from tasks.rul import cmapss
from tasks.rul.spec import RulSpec


class DataSource(Protocol):
    """A factory's local training data, shaped by the task spec (window, normalization)."""

    def load(self, spec: RulSpec) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class CmapssEngines:
    """A factory's run-to-failure engines, read and checked once, when the node starts (`from_file`)."""

    engines: cmapss.Engines

    @classmethod
    def from_file(cls, path: Path) -> "CmapssEngines":
        return cls(cmapss.load_file(path))

    def load(self, spec: RulSpec) -> tuple[np.ndarray, np.ndarray]:
        return windows(self.engines, spec)


def windows(engines: cmapss.Engines, spec: RulSpec) -> tuple[np.ndarray, np.ndarray]:
    """Training windows and capped RUL of `engines` as the spec shapes them."""
    return cmapss.training_windows(engines, spec.params.normalization, spec.params.window, spec.params.rul_cap)


def trainer_for(spec: RulSpec, source: DataSource) -> KerasTrainer:
    return KerasTrainer(spec, *source.load(spec))
