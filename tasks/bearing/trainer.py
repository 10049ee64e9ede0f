"""The bearing task's trainer: a factory's feature windows and health-state labels, standardized as the task spec
says, trained by the one Keras local update (`tasks.model.KerasTrainer`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tasks.bearing.spec import BearingSpec
from tasks.model import KerasTrainer


class DataSource(Protocol):
    """A factory's feature matrix (`classifier.feature_matrix`) and state labels."""

    def load(self, spec: BearingSpec) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Features:
    x: np.ndarray
    y: np.ndarray

    def load(self, spec: BearingSpec) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y


def trainer_for(spec: BearingSpec, source: DataSource) -> KerasTrainer:
    x, y = source.load(spec)
    return KerasTrainer(spec, spec.params.standardization.apply(x), y)
