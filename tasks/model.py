"""Keras models of fedpm tasks, built from the task spec's typed `model` section (`ModelSpec`, shared by the tasks),
with weights exchanged as stably named arrays.

Keras' auto names ("conv1d_3/kernel") depend on how many layers a process built before, so they cannot name
arrays across nodes. `get_weights` names each array `<layer index>.<layer class>.<variable>` instead, e.g.
"00.conv1d.kernel": a function of the architecture only; the layer-index prefix keeps layers in model order even for
readers that sort by name (the canonical model bytes keep the exact order anyway).

TensorFlow is imported inside functions: importing it costs seconds and the CLI must start fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from fl_node.modelfile import Named
from fl_node.spec import Fields, Json, TaskParams, TaskSpec, present, thaw
from fl_node.trainer import FitConfig, FitResult

# Small 1D-CNN over a window of recent cycles (cmapss.WINDOW = 50): reaches FD001 RMSE ~13 in a few CPU-seconds of
# training per factory. The final Rescaling by the RUL cap lets the dense head work in [0, 1] without a learned scale,
# and output_bias starts it near the mean capped RUL (0.6 * 125 = 75 cycles) instead of 0.
# Tuned on FD001 with bench/fl_accuracy.py (min-max inputs): dropout curbs the overfitting the flatten+dense head shows
# after ~10 epochs; L2 weight decay (1e-3 on conv and dense kernels) lowered the federated RMSE on 5 of 6 (split, seed)
# runs; a 50-cycle window instead of 30 lowered the pooled 5-fold RMSE of seed 2 (the hardest cuts) from 14.75 to
# 13.26 IID and 14.51 to 13.25 non-IID, as the head sees more of the slow degradation trend. Stronger dropout, a
# smaller dense layer, Gaussian input noise, spatial dropout after the convolutions, z-score inputs, and 10 rounds
# instead of 5 (the centralized baseline overfits) did not help.
# The learning rate is the rate of round 1; the task spec's train.lr_decay lowers it every round (`learning_rate_for`).
# Optional fields (off unless set; none adds weights, so the weight layout is unchanged): l2, input_noise, conv_dropout.
MODEL_KINDS = ("cnn1d", "gru", "mlp")


@dataclass(frozen=True)
class ModelSpec:
    """The `model` section of a Keras task's spec. A field the spec does not set is None, and takes DEFAULT_MODEL's
    value when the model is built (`resolved`); fields this version does not read stay in `extra` (they are hashed)."""

    kind: str | None = None  # one of MODEL_KINDS
    filters: tuple[int, ...] | None = None  # cnn1d: filters of each Conv1D layer
    kernel: int | None = None  # cnn1d: kernel size
    units: int | None = None  # gru: units (default 32)
    hidden: tuple[int, ...] | None = None  # mlp: units of each hidden layer (default [32])
    dense: int | None = None  # units of a dense layer before the head; 0: none
    dropout: float | None = None
    l2: float | None = None  # weight decay of the conv, GRU and dense kernels
    input_noise: float | None = None  # Gaussian input noise (training only)
    conv_dropout: float | None = None  # spatial dropout after the convolutions
    classes: int | None = None  # a softmax head over this many classes; 0 or None: a regression head
    output_scale: float | None = None  # regression head: output = scale * (dense + bias)
    output_bias: float | None = None  # regression head: initial bias, as a share of output_scale
    learning_rate: float | None = None  # of round 1
    extra: Json = field(default_factory=Json)

    @classmethod
    def read(cls, f: Fields) -> "ModelSpec":
        return cls(kind=f.value("kind", f"one of {', '.join(MODEL_KINDS)}", lambda v: v in MODEL_KINDS, optional=True),
                   filters=f.integers("filters", optional=True), kernel=f.integer("kernel", optional=True),
                   units=f.integer("units", optional=True), hidden=f.integers("hidden", optional=True),
                   dense=f.integer("dense", minimum=0, optional=True), dropout=f.number("dropout", minimum=0, optional=True),
                   l2=f.number("l2", minimum=0, optional=True), input_noise=f.number("input_noise", minimum=0, optional=True),
                   conv_dropout=f.number("conv_dropout", minimum=0, optional=True), classes=f.integer("classes", minimum=0, optional=True),
                   output_scale=f.number("output_scale", positive=True, optional=True), output_bias=f.number("output_bias", optional=True),
                   learning_rate=f.number("learning_rate", positive=True, optional=True), extra=f.rest())

    def to_json(self) -> dict[str, Any]:
        given = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**thaw(self.extra), **thaw(present(**given))}

    def resolved(self) -> "ModelSpec":
        """This section with DEFAULT_MODEL's value wherever it sets none: what `build_model` builds."""
        return replace(self, **{f.name: getattr(DEFAULT_MODEL, f.name) for f in fields(self) if getattr(self, f.name) is None})


DEFAULT_MODEL = ModelSpec(kind="cnn1d", filters=(32, 32), kernel=5, dense=64, dropout=0.2, l2=0.001, output_scale=125.0, output_bias=0.6, learning_rate=0.001)


class KerasParams(TaskParams, Protocol):
    """The part of a task's spec that a Keras task carries: its model section and the input shape it implies."""

    @property
    def model(self) -> ModelSpec: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...


KerasSpec = TaskSpec[KerasParams]


def configure_tensorflow(threads: int = 2, deterministic: bool = True) -> None:
    """Limit threads (2 shared cores) and ask for deterministic kernels. Safe to call more than once."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TF already initialized: settings are fixed for this process
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def set_seed(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(int(seed))


def build_model(spec: KerasSpec, seed: int = 0):
    """A compiled-free keras.Model for the task spec. Same spec + seed -> same initial weights."""
    import keras
    from keras import layers

    configure_tensorflow()
    set_seed(seed)
    cfg = spec.params.model.resolved()
    inputs = keras.Input(shape=spec.params.input_shape)
    x = inputs
    # optional regularizers, off unless the spec asks: none adds variables, so weight names do not change
    l2 = float(cfg.l2 or 0.0)
    reg = (lambda: keras.regularizers.L2(l2)) if l2 > 0 else (lambda: None)
    if cfg.input_noise:
        x = layers.GaussianNoise(float(cfg.input_noise), seed=seed)(x)  # active in training only
    if cfg.kind == "cnn1d":
        for f in cfg.filters or ():
            x = layers.Conv1D(int(f), int(cfg.kernel or 0), padding="same", activation="relu", kernel_regularizer=reg())(x)
        if cfg.conv_dropout:
            x = layers.SpatialDropout1D(float(cfg.conv_dropout), seed=seed + 1)(x)
        x = layers.Flatten()(x)
    elif cfg.kind == "gru":
        x = layers.GRU(int(cfg.units or 32), kernel_regularizer=reg())(x)
    else:  # mlp
        for units in cfg.hidden or (32,):
            x = layers.Dense(int(units), activation="relu", kernel_regularizer=reg())(x)
    if cfg.dense:
        x = layers.Dense(int(cfg.dense), activation="relu", kernel_regularizer=reg())(x)
    if cfg.dropout:
        x = layers.Dropout(float(cfg.dropout), seed=seed)(x)
    if cfg.classes:
        outputs = layers.Dense(int(cfg.classes), activation="softmax")(x)
    else:
        # start the head at output_bias * output_scale (near the mean capped RUL) instead of 0: otherwise the first
        # rounds are spent walking the bias up from 0, slowly at small learning rates
        x = layers.Dense(1, bias_initializer=keras.initializers.Constant(float(cfg.output_bias or 0.0)))(x)
        outputs = layers.Rescaling(float(cfg.output_scale or 0.0))(layers.Flatten()(x))
    return keras.Model(inputs, outputs, name=cfg.kind)


def _variables(model) -> list[tuple[str, Any]]:
    out = []
    weighted = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(weighted):
        for var in layer.weights:
            short = var.path.rsplit("/", 1)[-1]
            out.append((f"{i:02d}.{type(layer).__name__.lower()}.{short}", var))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError("model has two variables with the same stable name")
    return out


def get_weights(model) -> Named:
    """All weights as (stable name, float32 array), in model order."""
    return [(name, np.array(var.numpy())) for name, var in _variables(model)]


def set_weights(model, named: Sequence[tuple[str, np.ndarray]]) -> None:
    """Load named arrays; names, shapes and dtypes must match the architecture exactly."""
    variables = _variables(model)
    if [n for n, _ in variables] != [n for n, _ in named]:
        raise ValueError("weight names do not match the model architecture")
    for (name, var), (_, arr) in zip(variables, named):
        if tuple(var.shape) != np.shape(arr):
            raise ValueError(f"{name}: shape {np.shape(arr)} does not match {tuple(var.shape)}")
        var.assign(np.asarray(arr, dtype=var.dtype))


def learning_rate_for(spec: KerasSpec, round_index: int) -> float:
    """Learning rate of (1-based) round `round_index`: model.learning_rate * train.lr_decay ** (round - 1), floored at
    train.lr_min. Decaying per round lets the global model settle instead of jumping with each round's local noise.
    Without lr_decay in the spec the rate is constant (older specs keep their behaviour)."""
    lr0 = float(spec.params.model.resolved().learning_rate or 0.0)
    decay = 1.0 if spec.train.lr_decay is None else float(spec.train.lr_decay)
    lr_min = 0.0 if spec.train.lr_min is None else float(spec.train.lr_min)
    return max(lr_min, lr0 * decay ** (max(int(round_index), 1) - 1))


def epoch_schedule(spec: KerasSpec, epochs_per_round: int | None = None) -> Callable[[int], float]:
    """The federated per-round schedule in epochs, for baselines trained in one go: 0-based epoch e counts as
    round e // epochs_per_round + 1 (same LR at the same epoch as a federation with that many local epochs)."""
    per = int(epochs_per_round or spec.train.epochs)
    return lambda epoch: learning_rate_for(spec, epoch // max(per, 1) + 1)


def train_local(model, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, seed: int, learning_rate: float | None = None, classes: int = 0,
                schedule: Callable[[int], float] | None = None) -> dict:
    """Train in place with a fresh optimizer (as a node does each round). Returns metrics incl. num_samples.
    `schedule(epoch)` (0-based) overrides the learning rate per epoch (baselines that follow the round schedule)."""
    import keras

    set_seed(seed)
    lr = float(learning_rate if learning_rate is not None else DEFAULT_MODEL.learning_rate or 0.0)
    callbacks = []
    if schedule is not None:
        lr = float(schedule(0))
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch, _lr: float(schedule(epoch))))
    if classes:
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    else:
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", jit_compile=False)
    hist = model.fit(x, y, epochs=int(epochs), batch_size=int(batch_size), shuffle=True, verbose=0, callbacks=callbacks)
    loss = float(hist.history["loss"][-1])
    metrics = {"loss": loss, "num_samples": int(len(x)), "epochs": int(epochs)}
    if classes:
        metrics["accuracy"] = float(hist.history["accuracy"][-1])
    else:
        metrics["train_rmse"] = math.sqrt(loss)
    return metrics


def predict(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    out = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


@dataclass(frozen=True)
class KerasTrainer:
    """The one local update of every Keras task (a `fl_node.trainer.Trainer`): a fresh model from the spec, the
    round's base weights, `epochs` of training at the round's learning rate (`learning_rate_for`) with a fresh
    optimizer, seeded by `config.seed`. `x` is already in the model's input space (windowed, normalized)."""

    spec: KerasSpec
    x: np.ndarray
    y: np.ndarray

    def fit(self, parameters: Named, config: FitConfig) -> FitResult:
        net = build_model(self.spec)
        set_weights(net, parameters)
        m = train_local(net, self.x, self.y, config.epochs, self.spec.train.batch_size, seed=config.seed,
                        learning_rate=learning_rate_for(self.spec, config.round), classes=int(self.spec.params.model.classes or 0))
        return FitResult(get_weights(net), int(len(self.x)), {k: float(v) for k, v in m.items() if k != "num_samples"})
