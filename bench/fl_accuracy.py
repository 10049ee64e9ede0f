"""Federated vs centralized vs factory-alone RUL accuracy on C-MAPSS FD001. Prints one JSON object.

Protocol: the 100 engines belong to 4 factories (IID, or non-IID by engine life); 5-fold cross-validation holds out
a fifth of every factory's engines per fold (20 test engines, each cut at `--truncations` random cycles), the rest
trains. Every engine is tested once, by models that never saw it, so the pooled RMSE covers as many engines as NASA's
official FD001 test set (single 20-engine hold-outs swung the centralized RMSE from 12.5 to 16.1 between seeds).
Everyone gets the same total epochs and the same learning rate at each epoch (the spec's per-round decay,
`tasks.model.learning_rate_for`). A seed re-draws the IID owners, the folds, the cuts and the initial weights.
Usage:
  python bench/fl_accuracy.py [--data PATH] [--rounds R] [--epochs E] [--seeds 0,1,2] [--folds 5] [--splits iid,life] [--window W]
      [--threads 2] [--plot PNG]
      [--model JSON] [--train JSON] [--norm minmax|zscore] [--restart-baselines]
(defaults: the demo's rounds and local epochs; the spec defaults come from tasks.rul.experiment.make_spec.)

Top-level keys (fed_rmse, central_rmse, local_rmse_best, fed_vs_central; `_noniid` for the life split) are means over
the seeds of the pooled metrics; `per_seed` has every run with its per-fold RMSEs; `targets` says whether each target
held for every seed, `targets_on_seed_means` whether it held for the means (see `judge`). `local_rmse_best` is the
best factory's pooled RMSE; `folds_fed_beats_every_factory` counts the folds where the federation beat all four
factories on that fold alone (the strictest reading).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPLITS = (("iid", ""), ("life", "_noniid"))
RMSE_TARGET = 14.0
CENTRAL_MARGIN = 0.05


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 3)


def format_fold(r) -> str:
    from tasks.rul.evaluate import rmse

    return (f"RMSE federated {rmse(r.fed, r.y):.2f}, centralized {rmse(r.central, r.y):.2f}, factories alone "
            + " ".join(f"{rmse(p, r.y):.2f}" for p in r.local) + f" ({r.seconds:.0f}s)")


def accuracy(engines, rounds: int, epochs: int, seeds: list[int], factories: int = 4, truncations: int = 5, folds: int = 5, splits=SPLITS, restart_baselines: bool = False, **prepare_kw) -> dict:
    """Cross-validated federated vs centralized vs each factory alone for every split and seed: means, per-seed runs,
    target checks. `prepare_kw` (model, train, norm_kind) override the spec defaults; `restart_baselines` gives the
    baselines a fresh optimizer every `epochs` epochs, as the nodes get every round."""
    from tasks.rul import experiment

    per_seed: dict[str, list[dict]] = {}
    for split, _ in splits:
        runs = []
        for seed in seeds:
            progress = lambda r, split=split, seed=seed: print(f"{split} seed {seed} fold {r.fold}: {format_fold(r)}", file=sys.stderr, flush=True)
            r = experiment.cross_validate(engines, split, rounds, epochs, seed=seed, folds=folds, on_fold=progress, restart_optimizer=restart_baselines,
                                          n_factories=factories, truncations=truncations, **prepare_kw)
            runs.append({"seed": seed, **r})
        per_seed[split] = runs
    return judge(per_seed)


def _targets(fed: float, central: float, local_best: float) -> dict[str, bool]:
    return {f"fed_rmse_le_{RMSE_TARGET:g}": fed <= RMSE_TARGET, "fed_within_5pct_of_central": fed <= (1 + CENTRAL_MARGIN) * central,
            "fed_beats_every_factory_alone": fed < local_best}


def judge(per_seed: dict[str, list[dict]]) -> dict:
    """Means over the seeds and the targets, judged two ways: on every seed (`targets`; a seed's pooled RMSE still
    moves about +-0.5 with the training seed) and on the seed means (`targets_on_seed_means`, the method's expected
    accuracy; `local_rmse_best` there is the mean of each seed's best factory, the stricter reading). Pure."""
    out: dict = {}
    targets: dict[str, dict[str, bool]] = {}
    on_means: dict[str, dict[str, bool]] = {}
    for split, suffix in SPLITS:
        runs = per_seed.get(split)
        if not runs:
            continue
        for key in ("fed_rmse", "central_rmse", "local_rmse_best", "fed_score", "central_score"):
            out[f"{key}{suffix}"] = _mean([r[key] for r in runs])
            out[f"{key}{suffix}_per_seed"] = [r[key] for r in runs]
        out[f"fed_vs_central{suffix}"] = round(sum(r["fed_vs_central"] for r in runs) / len(runs), 4)
        each = [_targets(r["fed_rmse"], r["central_rmse"], r["local_rmse_best"]) for r in runs]
        targets[split] = {k: all(t[k] for t in each) for k in each[0]}
        on_means[split] = _targets(out[f"fed_rmse{suffix}"], out[f"central_rmse{suffix}"], out[f"local_rmse_best{suffix}"])
    out["targets"] = targets
    out["targets_all_met"] = all(v for t in targets.values() for v in t.values())
    out["targets_on_seed_means"] = on_means
    out["targets_on_seed_means_all_met"] = all(v for t in on_means.values() for v in t.values())
    out["per_seed"] = per_seed
    return out


def plot(out: dict, path: str) -> None:
    """Bars: pooled RMSE of the federation, centralized training and each factory alone (mean over seeds, one dot per
    seed), one group per split, the 14-cycle target as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(out["per_seed"]), figsize=(5.5 * len(out["per_seed"]), 4), dpi=120, sharey=True, squeeze=False)
    for ax, (split, runs) in zip(axes[0], out["per_seed"].items()):
        names = ["federated", "centralized"] + [f"factory {i + 1}\nalone" for i in range(len(runs[0]["local_rmse"]))]
        values = np.array([[r["fed_rmse"], r["central_rmse"], *r["local_rmse"]] for r in runs])  # [seed, contender]
        colors = ["tab:blue", "tab:green"] + ["tab:gray"] * (len(names) - 2)
        ax.bar(range(len(names)), values.mean(0), color=colors, alpha=0.8)
        for row in values:
            ax.scatter(range(len(names)), row, color="black", s=8, zorder=3)
        ax.axhline(RMSE_TARGET, color="tab:red", linestyle=":", label=f"target {RMSE_TARGET:g}")
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_title(f"{'IID' if split == 'iid' else 'non-IID (by engine life)'} split, {len(runs)} seeds x {out['folds']} folds")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("pooled RMSE on held-out engines (cycles)")
    axes[0][0].legend(loc="upper left")
    fig.suptitle(f"C-MAPSS FD001: {out['rounds']} rounds x {out['local_epochs']} local epochs, everyone the same epochs")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    from fedpm.settings import load_settings
    from tasks.rul import cmapss
    from tasks.rul import experiment
    from tasks.model import configure_tensorflow

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data, FEDPM_FL_DATA)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--factories", type=int, default=4)
    ap.add_argument("--truncations", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--splits", default="iid,life", help="comma-separated: iid, life (non-IID by engine life)")
    ap.add_argument("--window", type=int, default=None, help="cycles per input window (default: the spec's)")
    ap.add_argument("--plot", default=None, help="also draw the RMSEs into this PNG")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--seed", type=int, default=None, help="a single seed (overrides --seeds)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="{}", help="JSON overrides of the model spec, e.g. '{\"l2\": 0.001}'")
    ap.add_argument("--train", default="{}", help="JSON overrides of the train spec, e.g. '{\"lr_decay\": 0.5}'")
    ap.add_argument("--norm", default="minmax", choices=("minmax", "zscore"))
    ap.add_argument("--restart-baselines", action="store_true", help="baselines restart Adam every --epochs epochs, like the nodes each round")
    a = ap.parse_args()
    configure_tensorflow(a.threads)
    seeds = [a.seed] if a.seed is not None else [int(s) for s in a.seeds.split(",") if s.strip()]
    t0 = time.time()
    engines = cmapss.load_file(a.data or load_settings().fl.data_file)
    model, train = json.loads(a.model), json.loads(a.train)
    spec_defaults = experiment.make_spec(cmapss.Normalization(("s2",), "minmax", (0.0,), (1.0,)), model=model, train=train)
    out: dict = {"rounds": a.rounds, "local_epochs": a.epochs, "factories": a.factories, "folds": a.folds, "seeds": seeds,
                 "window": a.window or spec_defaults.params.window, "model": spec_defaults.params.model.to_json(),
                 "train": {**spec_defaults.train.to_json(), "epochs": a.epochs}, "norm": a.norm,
                 "restart_baselines": a.restart_baselines}
    wanted = [x.strip() for x in a.splits.split(",") if x.strip()]
    unknown = sorted(set(wanted) - {name for name, _ in SPLITS})
    if unknown or not wanted:
        ap.error(f"unknown --splits {unknown or a.splits!r}: use iid, life or both")
    splits = tuple(sp for sp in SPLITS if sp[0] in wanted)
    out.update(accuracy(engines, a.rounds, a.epochs, seeds, a.factories, a.truncations, a.folds, splits=splits, restart_baselines=a.restart_baselines,
                        model=model, train=train, norm_kind=a.norm, **({"window": a.window} if a.window else {})))
    out["seconds"] = round(time.time() - t0, 1)
    if a.plot:
        plot(out, a.plot)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
