"""Bodies of the sequence models beyond the plain 1D-CNN, for RUL windows [window, features] (`tasks.model.build_model`
adds the dense head and the output). Chosen from what the C-MAPSS FD001 literature reports strong, in small sizes
that train in CPU-seconds (docs/rul-model-search.md has what each scored here):

- "mscnn": multi-scale CNN (MS-DCNN, Li et al. 2020, RMSE 11.44): each block runs convolutions of several kernel
  sizes (or dilations) side by side and concatenates them, so one block sees short spikes and slow trends at once.
- "tcn": dilated causal-free residual CNN (temporal convolutional network): dilations 1, 2, 4, ... grow the receptive
  field over the whole window with few weights.
- "cnn_attn": CNN then attention over time (AGCNN, Liu et al. 2020, RMSE 12.42, uses attention to weight cycles):
  a learned score per cycle, softmax over the window, the weighted sum next to the last cycle's features.
- "transformer": a small encoder (learned position embedding, `blocks` x [multi-head self-attention, feed-forward],
  post-norm residuals), as in the transformer RUL models (e.g. DAST, 2022).

Every body returns a flat feature vector. Layers are created in a fixed order and draw their initial weights from the
global seed `build_model` sets, so the same spec and seed give the same weights; the stable weight names
(`tasks.model._variables`) include a sub-layer's path, so attention's query/key/value kernels stay distinct.
"""

from __future__ import annotations

from typing import Any, Callable

KINDS = ("mscnn", "tcn", "cnn_attn", "transformer")


def _position_embedding():
    import keras

    class PositionEmbedding(keras.layers.Layer):
        """Adds a learned vector per position in the window (the encoder has no other sense of order)."""

        def build(self, input_shape):
            self.embedding = self.add_weight(name="embedding", shape=tuple(input_shape[1:]), initializer=keras.initializers.RandomNormal(stddev=0.02))

        def call(self, x):
            return x + self.embedding

    return PositionEmbedding()


def body(kind: str, cfg: dict[str, Any], x, reg: Callable[[], Any]):
    """The feature extractor of `kind` over the input tensor `x`; `reg()` gives each kernel's regularizer."""
    from keras import layers

    if kind == "mscnn":
        kernels = [int(k) for k in cfg.get("kernels", [3, 5, 9])]
        dilations = [int(d) for d in cfg.get("dilations", [1] * len(kernels))]
        for f in cfg.get("filters", [16, 16]):
            branches = [layers.Conv1D(int(f), k, dilation_rate=d, padding="same", activation="relu", kernel_regularizer=reg())(x)
                        for k, d in zip(kernels, dilations)]
            x = layers.Concatenate()(branches)
        if cfg.get("mix"):  # 1x1 convolution folds the scales into fewer channels before the head
            x = layers.Conv1D(int(cfg["mix"]), 1, activation="relu", kernel_regularizer=reg())(x)
        return layers.Flatten()(x) if cfg.get("pool", "flatten") == "flatten" else layers.GlobalAveragePooling1D()(x)
    if kind == "tcn":
        f, k = int(cfg.get("channels", 32)), int(cfg.get("kernel", 3))
        x = layers.Conv1D(f, 1, kernel_regularizer=reg())(x)
        for d in cfg.get("dilations", [1, 2, 4, 8]):
            h = layers.Conv1D(f, k, dilation_rate=int(d), padding="same", activation="relu", kernel_regularizer=reg())(x)
            h = layers.Conv1D(f, k, dilation_rate=int(d), padding="same", kernel_regularizer=reg())(h)
            x = layers.Activation("relu")(layers.Add()([x, h]))
        return _pool(cfg, x)
    if kind == "cnn_attn":
        for f in cfg.get("filters", [32, 32]):
            x = layers.Conv1D(int(f), int(cfg.get("kernel", 5)), padding="same", activation="relu", kernel_regularizer=reg())(x)
        score = layers.Dense(1, use_bias=False)(layers.Dense(int(cfg.get("attention", 16)), activation="tanh")(x))  # [b, t, 1]
        weights = layers.Softmax(axis=1)(score)
        context = layers.Flatten()(layers.Dot(axes=1)([weights, x]))  # sum over t of weight_t * h_t
        last = layers.Cropping1D((x.shape[1] - 1, 0))(x)
        return layers.Concatenate()([context, layers.Flatten()(last)])
    if kind == "transformer":
        d, heads = int(cfg.get("d_model", 32)), int(cfg.get("heads", 4))
        x = _position_embedding()(layers.Dense(d, kernel_regularizer=reg())(x))
        for _ in range(int(cfg.get("blocks", 2))):
            att = layers.MultiHeadAttention(heads, d // heads, dropout=float(cfg.get("attention_dropout", 0.0)))(x, x)
            x = layers.LayerNormalization()(layers.Add()([x, att]))
            ff = layers.Dense(int(cfg.get("ff", 2 * d)), activation="relu", kernel_regularizer=reg())(x)
            ff = layers.Dense(d, kernel_regularizer=reg())(ff)
            x = layers.LayerNormalization()(layers.Add()([x, ff]))
        return _pool(cfg, x)
    raise ValueError(f"unknown model kind {kind!r}")


def _pool(cfg: dict, x):
    """flatten (keeps where in the window a pattern sits), avg (global average), or last (the newest cycle only)."""
    from keras import layers

    pool = cfg.get("pool", "flatten")
    if pool == "flatten":
        return layers.Flatten()(x)
    if pool == "avg":
        return layers.GlobalAveragePooling1D()(x)
    if pool == "last":
        return layers.Flatten()(layers.Cropping1D((x.shape[1] - 1, 0))(x))
    raise ValueError(f"unknown pool {pool!r}")
