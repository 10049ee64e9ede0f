"""Bearing health-state classifier (healthy / degraded / critical / failure) over vibration features.

Features per window (all roughly O(1) after log scaling): vibration RMS, kurtosis, crest factor, log spectrum
band energies, envelope-spectrum amplitude at BPFO/BPFI and their 2nd harmonics, temperature, current RMS.
The model is a small Keras MLP built by `tasks.model.build_model`, so it trains federatedly with the same
`get_weights`/`set_weights` + `fl_node.aggregate.fedavg` machinery as the RUL model. Feature standardization
is part of the task spec (`tasks.bearing.spec.Standardization`), derived federatedly: each factory shares its
`local_feature_stats`, anyone combines them with `tasks.stats.combine_stats`, and `make_spec` fixes the result.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tasks import model as M
from tasks.bearing import spec as bearing_spec
from tasks.bearing.spec import BearingSpec
from tasks.bearing.vibration import Bearing, STATES
from tasks.stats import Stats, stats_of

N_BANDS = 8
FEATURES = ("log_rms", "kurtosis", "log_crest") + tuple(f"band{i}" for i in range(N_BANDS)) + ("env_bpfo", "env_2bpfo", "env_bpfi", "env_2bpfi", "temperature", "current_rms")


def _envelope(x: np.ndarray) -> np.ndarray:
    """Magnitude of the analytic signal (Hilbert transform via FFT): demodulates the resonance ringing."""
    n = len(x)
    spec = np.fft.fft(x)
    h = np.zeros(n)
    h[0] = 1
    if n % 2 == 0:
        h[n // 2] = 1
        h[1 : n // 2] = 2
    else:
        h[1 : (n + 1) // 2] = 2
    return np.abs(np.fft.ifft(spec * h))


def _peak_near(spectrum: np.ndarray, freqs: np.ndarray, f: float, tol: float = 0.03) -> float:
    band = (freqs > f * (1 - tol)) & (freqs < f * (1 + tol))
    return float(spectrum[band].max()) if band.any() else 0.0


def features(window: dict[str, np.ndarray], fs: float = 12_000.0, bearing: Bearing | None = None) -> np.ndarray:
    """Feature vector (float32, len(FEATURES)) of one simulate_window() output."""
    bearing = bearing or Bearing()
    x = np.asarray(window["vibration"], np.float64)
    x = x - x.mean()
    rms = float(np.sqrt(np.mean(x**2))) + 1e-12
    kurt = float(np.mean(x**4) / rms**4)
    crest = float(np.max(np.abs(x)) / rms)
    power = np.abs(np.fft.rfft(x)) ** 2 / len(x)
    bands = [float(np.log10(b.sum() + 1e-12)) for b in np.array_split(power[1:], N_BANDS)]
    env = _envelope(x)
    env = env - env.mean()
    env_spec = np.abs(np.fft.rfft(env)) * 2 / len(env)
    freqs = np.fft.rfftfreq(len(env), 1 / fs)
    peaks = [_peak_near(env_spec, freqs, f) / rms for f in (bearing.bpfo, 2 * bearing.bpfo, bearing.bpfi, 2 * bearing.bpfi)]
    temp = float(np.mean(window["temperature"]))
    cur = float(np.sqrt(np.mean(np.asarray(window["current"], np.float64) ** 2)))
    return np.asarray([np.log10(rms), np.log(kurt), np.log(crest), *bands, *peaks, temp, cur], dtype=np.float32)


def feature_matrix(windows: Sequence[dict[str, np.ndarray]], fs: float = 12_000.0, bearing: Bearing | None = None) -> np.ndarray:
    return np.stack([features(w, fs, bearing) for w in windows]) if windows else np.zeros((0, len(FEATURES)), np.float32)


def local_feature_stats(x: np.ndarray) -> Stats:
    """What a factory shares to fix the standardization: sufficient statistics only."""
    return stats_of(x, FEATURES)


def make_spec(stats: Stats, hidden: Sequence[int] = (32, 16), learning_rate: float = 0.01) -> BearingSpec:
    """Task spec of the classifier: standardization from consortium statistics + MLP architecture."""
    std = np.where(stats.std() > 0, stats.std(), 1.0)
    return bearing_spec.load({
        "task": bearing_spec.KIND,
        "input_shape": [len(FEATURES)],
        "standardization": {"features": list(FEATURES), "mean": stats.mean().tolist(), "std": std.tolist()},
        "model": {"kind": "mlp", "hidden": list(hidden), "dense": 0, "classes": len(STATES), "learning_rate": learning_rate},
        "train": {"epochs": 20, "batch_size": 32},
    })


def report(pred: np.ndarray, true: np.ndarray) -> dict:
    """Per-class recall, accuracy, and the false-alarm rate: share of healthy windows flagged as not healthy."""
    pred, true = np.asarray(pred), np.asarray(true)
    recall = {s: (float(np.mean(pred[true == k] == k)) if np.any(true == k) else None) for k, s in enumerate(STATES)}
    healthy = true == 0
    false_alarm = float(np.mean(pred[healthy] != 0)) if healthy.any() else None
    return {"accuracy": float(np.mean(pred == true)) if len(true) else None, "recall": recall, "false_alarm_rate": false_alarm}


def train(spec: BearingSpec, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0, model=None):
    """Train (a new, or the given) classifier on standardized features; returns (model, metrics)."""
    net = model if model is not None else M.build_model(spec, seed=seed)
    metrics = M.train_local(net, spec.params.standardization.apply(x), y, epochs, spec.train.batch_size, seed,
                            spec.params.model.resolved().learning_rate, classes=len(STATES))
    return net, metrics


def classify(spec: BearingSpec, net, x: np.ndarray) -> np.ndarray:
    return np.argmax(M.predict(net, spec.params.standardization.apply(x)), axis=-1)
