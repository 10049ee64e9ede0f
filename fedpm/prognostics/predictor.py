"""A model version loaded for inference: its canonical bytes (already checked against the finalized hash), the task
spec they embed, a Keras model built from it, and one compiled inference function.

`Predictor.predict(x)` takes windows [n, window, features] and returns the predicted RUL in cycles per window. The
function is traced once per batch size bucket (1, then powers of two up to the fleet), so a single prediction costs a
graph call, not Keras' per-call set-up. TensorFlow is imported here, inside the functions that load a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fedpm.models.registry import ModelVersion
from fl_node.modelfile import ModelFileError, decode_spec, decode_weights
from fl_node.spec import SpecError
from ground.errors import FedpmError
from tasks.rul import spec as rul_spec
from tasks.rul.spec import RulSpec


class ModelLoadError(FedpmError):
    """Model bytes that verify against the chain but cannot be served (another task kind, a broken architecture)."""


@dataclass
class Predictor:
    version: ModelVersion
    spec: RulSpec
    net: Any
    _fn: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def task_kind(self) -> str:
        return self.spec.kind

    @property
    def window(self) -> int:
        return self.spec.params.window

    @property
    def features(self) -> tuple[str, ...]:
        return self.spec.params.normalization.features

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted RUL (cycles, float64) of each window in x [n, window, features]."""
        x = np.asarray(x, np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.window, len(self.features)):
            raise ValueError(f"windows must have shape [n, {self.window}, {len(self.features)}], got {list(x.shape)}")
        n = len(x)
        if n == 0:
            return np.zeros((0,), np.float64)
        size = 1 << (n - 1).bit_length()  # pad to a power of two: few traced shapes
        padded = x if size == n else np.concatenate([x, np.zeros((size - n, *x.shape[1:]), np.float32)])
        out = np.asarray(self._compiled()(padded))
        if out.size != size:
            raise ModelLoadError(f"{self.version.short} answers {out.size // size} value(s) per window, not one remaining life",
                                 hint="serve a model with a single regression output")
        return np.maximum(out.reshape(-1)[:n].astype(np.float64), 0.0)

    def _compiled(self) -> Any:
        with self._lock:
            if self._fn is None:
                import tensorflow as tf

                net = self.net
                self._fn = tf.function(lambda x: net(x, training=False), reduce_retracing=True)
            return self._fn

    def warm_up(self) -> None:
        """Trace the single-window shape before serving, so the first request is not the slow one."""
        self.predict(np.zeros((1, self.window, len(self.features)), np.float32))


def load_predictor(version: ModelVersion, blob: bytes) -> Predictor:
    """A predictor for verified model bytes of a RUL task."""
    from tasks.model import build_model, set_weights

    try:
        named = decode_weights(blob)
        embedded = decode_spec(blob)
    except ModelFileError as exc:
        raise ModelLoadError(f"{version.short}: {exc.message}", hint=exc.hint or "") from None
    if not isinstance(embedded, dict) or embedded.get("task") != rul_spec.KIND:
        kind = embedded.get("task") if isinstance(embedded, dict) else None
        raise ModelLoadError(f"{version.short} is a {kind or 'spec-less'} model, not a remaining-useful-life model",
                             hint=f"serve a task of kind {rul_spec.KIND}")
    try:
        spec = rul_spec.load(embedded, source=f"embedded in {version.short}")
    except SpecError as exc:
        raise ModelLoadError(exc.message, hint=exc.hint or "") from None
    net = build_model(spec)
    try:
        set_weights(net, named)
    except ValueError as exc:
        raise ModelLoadError(f"{version.short}: weights do not fit the embedded architecture: {exc}", hint="the model is from another task") from None
    return Predictor(version, spec, net)
