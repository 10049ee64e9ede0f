"""In-memory federated learning experiment on C-MAPSS FD001: the building blocks of bench/fl_accuracy.py and the demo.

Flow: engines to factories (IID or by life) -> fold k holds out a fifth of every factory's engines -> federated
normalization from local statistics -> task spec -> K rounds of (each factory trains E epochs from the global model;
fedavg in trainer order) -> predict truncated held-out engines. Baselines: centralized training, each factory alone.
`cross_validate` runs every fold so every engine is tested once, and pools the predictions (`summarize`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fl_node import aggregate
from fl_node.modelfile import Named
from fl_node.trainer import fit_config, memory_round
from tasks import model as M
from tasks.model import DEFAULT_MODEL, KerasTrainer
from tasks.rul import cmapss, partition
from tasks.rul import spec as rul_spec
from tasks.rul.spec import RulSpec
from tasks.rul.evaluate import metrics, rmse
from tasks.stats import combine_stats

# Local training per round (tuned on FD001 over seeds 0-2, IID and non-IID, 5 rounds x 2 local epochs):
# batch 32 gives each factory ~110 steps per epoch (batch 256 gave ~14: the federation under-fitted, worst for some
# seeds), and lr_decay multiplies the learning rate by 0.7 per round so the global model settles instead of jumping
# +-0.7 RMSE from round to round (round 5 trains at 0.24x the first rate). Baselines follow the same schedule in
# epochs (`solo_train`).
DEFAULT_TRAIN: dict = {"epochs": 2, "batch_size": 32, "lr_decay": 0.7}


def make_spec(norm: cmapss.Normalization, window: int = cmapss.WINDOW, rul_cap: int = cmapss.RUL_CAP, model: dict | None = None,
              train: dict | None = None, aggregation: dict | None = None) -> RulSpec:
    """The task spec: what every node and evaluator needs to agree on. `model`, `train` override the defaults field by
    field; `aggregation` ({"rule", "params"}) names the rule (absent: fedavg). Malformed overrides raise SpecError."""
    value = {
        "task": rul_spec.KIND,
        "window": int(window),
        "rul_cap": int(rul_cap),
        "normalization": norm.to_dict(),
        "model": {**DEFAULT_MODEL.to_json(), "output_scale": float(rul_cap), **(model or {})},
        "train": {**DEFAULT_TRAIN, **(train or {})},
    }
    return rul_spec.load(value if aggregation is None else {**value, "aggregation": aggregation})


@dataclass
class Setup:
    spec: RulSpec
    factories: list[list[int]]  # training engine ids per factory (its engines minus the fold's held-out ones)
    factory_data: list[tuple[np.ndarray, np.ndarray]]  # (x, y) per factory
    test_x: np.ndarray
    test_y: np.ndarray  # capped true RUL
    test_units: list[int]  # the held-out engines


def owners(engines: cmapss.Engines, n_factories: int, split: str, seed: int) -> list[list[int]]:
    """Which factory owns which engines: IID (seeded shuffle) or non-IID by life (factory 0 the shortest-lived)."""
    if split == "iid":
        return partition.split_iid(engines.units, n_factories, seed)
    if split in ("life", "non-iid", "noniid"):
        return partition.split_by_life(engines.lives(), n_factories)
    raise ValueError(f"unknown split {split!r}")


def prepare(engines: cmapss.Engines, n_factories: int = 4, split: str = "iid", seed: int = 0, folds: int = 5, fold: int = 0, window: int = cmapss.WINDOW, truncations: int = 5, model: dict | None = None, train: dict | None = None, norm_kind: str = "minmax") -> Setup:
    """Give the engines to factories, hold out fold `fold` of `folds` (the same share of every factory's engines),
    derive normalization federatedly from the rest, window the data. `truncations` cuts each held-out engine at that
    many random cycles (separate test engines) so the RMSE is less noisy."""
    owned = owners(engines, n_factories, split, seed)
    held = set(partition.fold_holdout(owned, folds, fold, seed))
    factories = [[u for u in units if u not in held] for units in owned]
    parts = [engines.subset(f) for f in factories]
    stats = combine_stats([cmapss.local_stats(p) for p in parts])  # only sufficient statistics leave a factory
    norm = cmapss.normalization_from_stats(stats, cmapss.select_features(stats), norm_kind)
    spec = make_spec(norm, window, model=model, train=train)
    data = [cmapss.training_windows(p, norm, window, spec.params.rul_cap) for p in parts]
    test = engines.subset(held)
    xs, ys = [], []
    for t in range(truncations):
        cut, rul = cmapss.truncate_engines(test, seed=_truncation_seed(seed, fold, t))
        xs.append(cmapss.last_windows(cut, norm, window))
        ys.append(np.minimum(rul, spec.params.rul_cap))
    return Setup(spec, factories, data, np.concatenate(xs), np.concatenate(ys).astype(np.float64), sorted(held))


def _truncation_seed(seed: int, fold: int, t: int) -> int:
    return (seed * 1000 + fold) * 1000 + t


def federated_train(spec: RulSpec, factory_data: Sequence[tuple[np.ndarray, np.ndarray]], rounds: int, epochs: int, seed: int = 0, rule: aggregate.Rule = aggregate.fedavg, on_round: Callable[[int, Named], None] | None = None) -> Named:
    """K rounds of: every factory fits the global model locally (the node's local update and seed rule, factory i
    with trainer seed `seed * len(factory_data) + i`), then `rule` by sample count."""
    trainers = [KerasTrainer(spec, x, y) for x, y in factory_data]  # fixed factory order = trainer-address order on chain
    seeds = [seed * len(factory_data) + i for i in range(len(factory_data))]
    global_named = M.get_weights(M.build_model(spec, seed=seed))
    for r in range(rounds):
        global_named = memory_round(trainers, seeds, global_named, r + 1, epochs, rule)
        if on_round:
            on_round(r, global_named)
    return global_named


def solo_train(spec: RulSpec, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0, epochs_per_round: int | None = None, restart_optimizer: bool = False) -> Named:
    """One party trains alone (centralized baseline on pooled data, or one factory alone): same total epochs and the
    same learning rate at each epoch as a federation with `epochs_per_round` (default spec train.epochs) local epochs.
    `restart_optimizer`: a fresh Adam every `epochs_per_round` epochs, as a node gets every round (apples to apples);
    otherwise one Adam across all epochs."""
    net = M.build_model(spec, seed=seed)
    per = max(int(epochs_per_round or spec.train.epochs), 1)
    if not restart_optimizer:
        M.train_local(net, x, y, epochs, spec.train.batch_size, seed=seed, schedule=M.epoch_schedule(spec, per))
        return M.get_weights(net)
    trainer, named, done, r = KerasTrainer(spec, x, y), M.get_weights(net), 0, 0
    while done < epochs:  # the node's local update, round after round, without aggregation
        n = min(per, epochs - done)
        named = trainer.fit(named, fit_config(seed, r + 1, n)).parameters
        done, r = done + n, r + 1
    return named


def predict_named(spec: RulSpec, named: Named, x: np.ndarray) -> np.ndarray:
    net = M.build_model(spec)
    M.set_weights(net, named)
    return M.predict(net, x).reshape(-1).astype(np.float64)


def evaluate_named(spec: RulSpec, named: Named, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return metrics(predict_named(spec, named, x), y)


@dataclass
class FoldResult:
    """Predictions of every contender on one fold's test windows."""

    fold: int
    y: np.ndarray
    fed: np.ndarray
    central: np.ndarray
    local: list[np.ndarray]  # one per factory, in factory order
    factory_windows: list[int]
    seconds: float


def run_fold(engines: cmapss.Engines, split: str, rounds: int, epochs: int, seed: int = 0, fold: int = 0, restart_optimizer: bool = False, **prepare_kw) -> FoldResult:
    """Federated vs centralized vs each factory alone on one fold, same total epochs for everyone
    (`restart_optimizer`: baselines get a fresh optimizer every `epochs` epochs, like the nodes every round)."""
    t0 = time.time()
    s = prepare(engines, split=split, seed=seed, fold=fold, **prepare_kw)
    solo = dict(epochs_per_round=epochs, restart_optimizer=restart_optimizer)
    x_all = np.concatenate([x for x, _ in s.factory_data])
    y_all = np.concatenate([y for _, y in s.factory_data])
    fed = predict_named(s.spec, federated_train(s.spec, s.factory_data, rounds, epochs, seed), s.test_x)
    central = predict_named(s.spec, solo_train(s.spec, x_all, y_all, rounds * epochs, seed, **solo), s.test_x)
    local = [predict_named(s.spec, solo_train(s.spec, x, y, rounds * epochs, seed, **solo), s.test_x) for x, y in s.factory_data]
    return FoldResult(fold, s.test_y, fed, central, local, [int(len(x)) for x, _ in s.factory_data], round(time.time() - t0, 1))


def summarize(results: Sequence[FoldResult]) -> dict:
    """Pooled metrics over the folds (every held-out engine once): RMSE over all test windows, PHM08 score per 100
    test windows (the official test set's size), each factory alone, and the per-fold RMSEs. Pure."""

    def pooled(pick: Callable[[FoldResult], np.ndarray]) -> dict[str, float]:
        m = metrics(np.concatenate([pick(r) for r in results]), y)
        return {"rmse": round(m["rmse"], 3), "score": round(m["score"] * 100 / len(y), 1)}

    y = np.concatenate([r.y for r in results])
    fed, central = pooled(lambda r: r.fed), pooled(lambda r: r.central)
    local = [pooled(lambda r, i=i: r.local[i]) for i in range(len(results[0].local))]
    per_fold = [{"fold": r.fold, "fed_rmse": round(rmse(r.fed, r.y), 3), "central_rmse": round(rmse(r.central, r.y), 3),
                 "local_rmse": [round(rmse(p, r.y), 3) for p in r.local]} for r in results]
    return {
        "fed_rmse": fed["rmse"], "fed_score": fed["score"],
        "central_rmse": central["rmse"], "central_score": central["score"],
        "local_rmse": [m["rmse"] for m in local],
        "local_rmse_best": min(m["rmse"] for m in local),
        "fed_vs_central": round(fed["rmse"] / central["rmse"] - 1, 4),
        "folds_fed_beats_every_factory": sum(f["fed_rmse"] < min(f["local_rmse"]) for f in per_fold),
        "test_windows": int(len(y)),
        "per_fold": per_fold,
        "factory_windows": [r.factory_windows for r in results],
        "seconds": round(sum(r.seconds for r in results), 1),
    }


def cross_validate(engines: cmapss.Engines, split: str, rounds: int, epochs: int, seed: int = 0, folds: int = 5, on_fold: Callable[[FoldResult], None] | None = None, **kw) -> dict:
    """Every fold of `run_fold`, then `summarize`: every engine is tested once by models that never saw it."""
    results = []
    for fold in range(folds):
        results.append(run_fold(engines, split, rounds, epochs, seed=seed, fold=fold, folds=folds, **kw))
        if on_fold:
            on_fold(results[-1])
    return summarize(results)


def write_holdout_files(engines: cmapss.Engines, setup: Setup, out_dir: str | Path, seed: int = 0, fold: int = 0) -> tuple[Path, Path]:
    """NASA-format test_FD001.txt / RUL_FD001.txt of the engines `setup` (from `prepare(..., seed, fold)`) holds out,
    cut like its first truncation."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_path, rul_path = out / "test_FD001.txt", out / "RUL_FD001.txt"
    cmapss.write_test_files(engines.subset(setup.test_units), test_path, rul_path, seed=_truncation_seed(seed, fold, 0))
    return test_path, rul_path
