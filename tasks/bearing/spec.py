"""The bearing task's part of a task spec, typed: the input shape, the standardization every party applies to the
feature vectors, and the model section (`tasks.model.ModelSpec`). `fl_node.spec.TaskSpec` types the rest;
`BearingSpec` is a spec of this kind, `load` reads one (`tasks.bearing.classifier.make_spec` builds one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.spec import Fields, TaskSpec
from tasks.model import ModelSpec

KIND = "bearing_state"


@dataclass(frozen=True)
class Standardization:
    """x_scaled = (x - mean) / std per feature, from the consortium's combined statistics."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    @classmethod
    def read(cls, f: Fields) -> Standardization:
        s = cls(f.texts("features"), f.numbers("mean"), f.numbers("std", positive=True))
        f.refuse_rest("the standardization")
        if not len(s.features) == len(s.mean) == len(s.std):
            raise f.fail(f"{len(s.features)} features, {len(s.mean)} means and {len(s.std)} stds", hint="give one mean and one std per feature")
        return s

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "std": list(self.std)}


@dataclass(frozen=True)
class BearingParams:
    input_shape: tuple[int, ...]  # (number of features,)
    standardization: Standardization
    model: ModelSpec

    @classmethod
    def read(cls, f: Fields) -> BearingParams:
        shape = f.integers("input_shape")
        std = Standardization.read(f.section("standardization", "an object with features, mean and std"))
        params = cls(shape, std, ModelSpec.read(f.section("model")))
        if shape != (len(params.standardization.features),):
            raise f.error("input_shape", f"must be [{len(params.standardization.features)}], one input per standardized feature, got {list(shape)}",
                          hint=f'set "input_shape" to [{len(params.standardization.features)}]')
        return params

    def to_json(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "standardization": self.standardization.to_json(), "model": self.model.to_json()}


BearingSpec = TaskSpec[BearingParams]


def load(value: Any, source: str = "") -> BearingSpec:
    """A bearing task spec from parsed JSON (any other kind is refused): `fl_node.spec.SpecError` when malformed."""
    return TaskSpec.from_dict(value, kinds={KIND: BearingParams.read}, source=source)
