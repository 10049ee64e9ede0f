"""Evaluate a canonical model file on the C-MAPSS test protocol.

The model file is self-describing: its safetensors metadata embeds the task spec (window, RUL cap,
normalization, model architecture) as canonical JSON, so `evaluate` needs only the three paths.
Protocol: the last `window` cycles of each test engine (short engines padded with their first row), true RUL
from the RUL file capped like training, RMSE and the PHM08 score (late predictions cost more than early ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fl_node.modelfile import load_model
from ground.errors import FedpmError
from tasks import model as keras_model
from tasks.rul import cmapss
from tasks.rul import spec as rul_spec
from tasks.rul.spec import RulSpec


class EvaluationError(FedpmError):
    """The model, test file and RUL file do not fit together."""


def phm08_score(pred: np.ndarray, true: np.ndarray) -> float:
    """sum(exp(-d/13)-1) over early predictions (d<0) + sum(exp(d/10)-1) over late ones, d = pred - true."""
    d = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    d = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float(np.sqrt(np.mean(d**2)))


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {"rmse": rmse(pred, true), "score": phm08_score(pred, true)}


def test_set(spec: RulSpec, test: cmapss.Engines, true_rul: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(last windows, capped true RUL) for a task spec."""
    if len(test.units) != len(true_rul):
        raise EvaluationError(f"test file has {len(test.units)} engines but the RUL file has {len(true_rul)} values", hint="pass the RUL file that belongs to the test file")
    x = cmapss.last_windows(test, spec.params.normalization, spec.params.window)
    return x, np.minimum(true_rul, float(spec.params.rul_cap))


def evaluate(model_path: str | Path, test_file: str | Path, rul_file: str | Path) -> dict[str, float]:
    """{"rmse": float, "score": float} of the model on the test engines. Raises FedpmError subclasses on bad input."""
    named, embedded = load_model(model_path)
    if not isinstance(embedded, dict) or embedded.get("task") != rul_spec.KIND:
        raise EvaluationError(f"{model_path} has no embedded C-MAPSS task spec", hint="evaluate a model produced by a fedpm RUL task")
    spec = rul_spec.load(embedded, source=f"embedded in {model_path}")
    x, y = test_set(spec, cmapss.load_file(test_file), cmapss.load_rul_file(rul_file))
    net = keras_model.build_model(spec)
    try:
        keras_model.set_weights(net, named)
    except ValueError as exc:
        raise EvaluationError(f"{model_path}: weights do not fit the embedded architecture: {exc}", hint="the model file is corrupt or from another task") from None
    return metrics(keras_model.predict(net, x).reshape(-1), y)
