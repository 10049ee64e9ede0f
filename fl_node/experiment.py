"""In-memory federated learning experiment on C-MAPSS FD001: the building blocks of bench/fl_accuracy.py and the demo.

Flow: hold out test engines -> split the rest across factories -> federated normalization from local statistics
-> task spec -> K rounds of (each factory trains E epochs from the global model; fedavg in trainer order)
-> evaluate on truncated held-out engines. Baselines: centralized training, each factory alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fl_node import aggregate, cmapss, partition
from fl_node.evaluate import metrics

DATA = Path("/work/shared/data/cmapss/train_FD001.txt")

# Local training per round (tuned on FD001 over seeds 0-2, IID and non-IID, 5 rounds x 2 local epochs):
# batch 32 gives each factory ~110 steps per epoch (batch 256 gave ~14: the federation under-fitted, worst for some
# seeds), and lr_decay multiplies the learning rate by 0.7 per round so the global model settles instead of jumping
# +-0.7 RMSE from round to round (round 5 trains at 0.24x the first rate). Baselines follow the same schedule in
# epochs (`solo_train`).
DEFAULT_TRAIN: dict = {"epochs": 2, "batch_size": 32, "lr_decay": 0.7}

Named = list[tuple[str, np.ndarray]]


def make_spec(norm: cmapss.Normalization, window: int = cmapss.WINDOW, rul_cap: int = cmapss.RUL_CAP, model: dict | None = None, train: dict | None = None) -> dict:
    """The task spec (JSON-able): what every node and evaluator needs to agree on."""
    from fl_node.model import DEFAULT_MODEL

    return {
        "task": "cmapss_rul",
        "window": int(window),
        "rul_cap": int(rul_cap),
        "normalization": norm.to_dict(),
        "model": {**DEFAULT_MODEL, "output_scale": float(rul_cap), **(model or {})},
        "train": {**DEFAULT_TRAIN, **(train or {})},
    }


@dataclass
class Setup:
    spec: dict
    factories: list[list[int]]  # engine ids per factory
    factory_data: list[tuple[np.ndarray, np.ndarray]]  # (x, y) per factory
    test_x: np.ndarray
    test_y: np.ndarray  # capped true RUL


def prepare(engines: cmapss.Engines, n_factories: int = 4, n_test: int = 20, split: str = "iid", seed: int = 0, window: int = cmapss.WINDOW, truncations: int = 5, model: dict | None = None, train: dict | None = None, norm_kind: str = "minmax") -> Setup:
    """Split, derive normalization federatedly, window the data. `truncations` cuts each held-out engine at that
    many random cycles (separate test engines) so RMSE over 20 engines is less noisy."""
    train_ids, test_ids = partition.holdout(engines.units, n_test, seed)
    if split == "iid":
        factories = partition.split_iid(train_ids, n_factories, seed)
    elif split in ("life", "non-iid", "noniid"):
        factories = partition.split_by_life({u: engines.lives()[u] for u in train_ids}, n_factories)
    else:
        raise ValueError(f"unknown split {split!r}")
    parts = [engines.subset(f) for f in factories]
    stats = cmapss.combine_stats([cmapss.local_stats(p) for p in parts])  # only sufficient statistics leave a factory
    norm = cmapss.normalization_from_stats(stats, cmapss.select_features(stats), norm_kind)
    spec = make_spec(norm, window, model=model, train=train)
    data = [cmapss.training_windows(p, norm, window, spec["rul_cap"]) for p in parts]
    held = engines.subset(test_ids)
    xs, ys = [], []
    for t in range(truncations):
        test, rul = cmapss.truncate_engines(held, seed=seed * 1000 + t)
        xs.append(cmapss.last_windows(test, norm, window))
        ys.append(np.minimum(rul, spec["rul_cap"]))
    return Setup(spec, factories, data, np.concatenate(xs), np.concatenate(ys).astype(np.float64))


def federated_train(spec: dict, factory_data: Sequence[tuple[np.ndarray, np.ndarray]], rounds: int, epochs: int, seed: int = 0, rule: aggregate.Rule = aggregate.fedavg, on_round: Callable[[int, Named], None] | None = None) -> Named:
    """K rounds of: every factory starts from the global model, trains `epochs` locally, fedavg by sample count."""
    from fl_node import model as M

    net = M.build_model(spec, seed=seed)
    global_named = M.get_weights(net)
    for r in range(rounds):
        updates = []
        for i, (x, y) in enumerate(factory_data):  # fixed factory order = trainer-address order on chain
            M.set_weights(net, global_named)
            M.train_local(net, x, y, epochs, spec["train"]["batch_size"], seed=seed * 10007 + r * 101 + i, learning_rate=M.learning_rate_for(spec, r + 1))
            updates.append((M.get_weights(net), len(x)))
        global_named = rule(updates)
        if on_round:
            on_round(r, global_named)
    return global_named


def solo_train(spec: dict, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0, epochs_per_round: int | None = None, restart_optimizer: bool = False) -> Named:
    """One party trains alone (centralized baseline on pooled data, or one factory alone): same total epochs and the
    same learning rate at each epoch as a federation with `epochs_per_round` (default spec train.epochs) local epochs.
    `restart_optimizer`: a fresh Adam every `epochs_per_round` epochs, as a node gets every round (apples to apples);
    otherwise one Adam across all epochs."""
    from fl_node import model as M

    net = M.build_model(spec, seed=seed)
    per = max(int(epochs_per_round or spec["train"].get("epochs", 1)), 1)
    if not restart_optimizer:
        M.train_local(net, x, y, epochs, spec["train"]["batch_size"], seed=seed, schedule=M.epoch_schedule(spec, per))
        return M.get_weights(net)
    done, r = 0, 0
    while done < epochs:
        n = min(per, epochs - done)
        M.train_local(net, x, y, n, spec["train"]["batch_size"], seed=seed * 10007 + r * 101, learning_rate=M.learning_rate_for(spec, r + 1))
        done, r = done + n, r + 1
    return M.get_weights(net)


def evaluate_named(spec: dict, named: Named, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from fl_node import model as M

    net = M.build_model(spec)
    M.set_weights(net, named)
    return metrics(M.predict(net, x).reshape(-1), y)


def run(engines: cmapss.Engines, split: str, rounds: int, epochs: int, seed: int = 0, restart_optimizer: bool = False, **prepare_kw) -> dict:
    """Federated vs centralized vs each factory alone, same total epochs for everyone (`restart_optimizer`: baselines
    get a fresh optimizer every `epochs` epochs, like the nodes every round)."""
    t0 = time.time()
    s = prepare(engines, split=split, seed=seed, **prepare_kw)
    fed = evaluate_named(s.spec, federated_train(s.spec, s.factory_data, rounds, epochs, seed), s.test_x, s.test_y)
    x_all = np.concatenate([x for x, _ in s.factory_data])
    y_all = np.concatenate([y for _, y in s.factory_data])
    solo = dict(epochs_per_round=epochs, restart_optimizer=restart_optimizer)
    central = evaluate_named(s.spec, solo_train(s.spec, x_all, y_all, rounds * epochs, seed, **solo), s.test_x, s.test_y)
    local = [evaluate_named(s.spec, solo_train(s.spec, x, y, rounds * epochs, seed, **solo), s.test_x, s.test_y) for x, y in s.factory_data]
    local_rmse = [round(m["rmse"], 3) for m in local]
    return {
        "fed_rmse": round(fed["rmse"], 3),
        "fed_score": round(fed["score"], 1),
        "central_rmse": round(central["rmse"], 3),
        "central_score": round(central["score"], 1),
        "local_rmse": local_rmse,
        "local_rmse_best": min(local_rmse),
        "fed_vs_central": round(fed["rmse"] / central["rmse"] - 1, 4),
        "test_engines": int(len(s.test_y)),
        "factory_windows": [int(len(x)) for x, _ in s.factory_data],
        "seconds": round(time.time() - t0, 1),
    }


def run_state_classifier(n_factories: int = 3, windows_per_state: int = 20, rounds: int = 3, epochs: int = 10, seed: int = 0, n: int = 2048) -> dict:
    """Federated bearing-state classifier on simulated vibration: per-class recall and false-alarm rate."""
    from fl_node import model as M
    from fl_node import state_classifier as sc
    from fl_node import vibration as vib

    data = []
    for i in range(n_factories):
        windows, y = vib.simulate_dataset(windows_per_state, np.random.default_rng(seed * 100 + i + 1), n=n)
        data.append((sc.feature_matrix(windows), y))
    spec = sc.make_spec(cmapss.combine_stats([sc.local_feature_stats(x) for x, _ in data]))
    net = M.build_model(spec, seed=seed)
    global_named = M.get_weights(net)
    for r in range(rounds):
        updates = []
        for i, (x, y) in enumerate(data):
            M.set_weights(net, global_named)
            _, m = sc.train(spec, x, y, epochs, seed=seed * 10007 + r * 101 + i, model=net)
            updates.append((M.get_weights(net), m["num_samples"]))
        global_named = aggregate.fedavg(updates)
    M.set_weights(net, global_named)
    test_w, test_y = vib.simulate_dataset(windows_per_state, np.random.default_rng(seed * 100 + 99), n=n)
    return sc.report(sc.classify(spec, net, sc.feature_matrix(test_w)), test_y)


def write_holdout_files(engines: cmapss.Engines, out_dir: str | Path, n_test: int = 20, seed: int = 0) -> tuple[Path, Path]:
    """NASA-format test_FD001.txt / RUL_FD001.txt from the engines `prepare(..., n_test, seed)` holds out."""
    _, test_ids = partition.holdout(engines.units, n_test, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_path, rul_path = out / "test_FD001.txt", out / "RUL_FD001.txt"
    cmapss.write_test_files(engines.subset(test_ids), test_path, rul_path, seed=seed * 1000)
    return test_path, rul_path
