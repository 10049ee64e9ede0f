"""Federated vs centralized vs factory-alone RUL accuracy on C-MAPSS FD001. Prints one JSON object.

80 engines train (4 factories, IID and non-IID by engine life), 20 held out and truncated at random cycles
(`--truncations` cuts per engine, as separate test engines, to steady the RMSE). Every seed re-draws the held-out
engines, the IID split, the truncations and the initial weights. Everyone gets the same total epochs and the same
learning rate at each epoch (the spec's per-round decay, `fl_node.model.learning_rate_for`). Usage:
  python bench/fl_accuracy.py [--data PATH] [--rounds 5] [--epochs 2] [--seeds 0,1,2] [--threads 2]
      [--model JSON] [--train JSON] [--norm minmax|zscore] [--restart-baselines]
(5 rounds x 2 local epochs is the demo's setting; the spec defaults come from fl_node.experiment.make_spec.)

Top-level keys (fed_rmse, central_rmse, local_rmse_best, fed_vs_central; `_noniid` for the life split) are means over
the seeds; `per_seed` has every run, `targets` says whether each target held for every seed.
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


def accuracy(engines, rounds: int, epochs: int, seeds: list[int], factories: int = 4, truncations: int = 5, splits=SPLITS, restart_baselines: bool = False, **prepare_kw) -> dict:
    """Federated vs centralized vs each factory alone for every split and seed: means, per-seed runs, target checks.
    `prepare_kw` (model, train, norm_kind) override the spec defaults; `restart_baselines` gives the baselines a fresh
    optimizer every `epochs` epochs, as the nodes get every round."""
    from fl_node import experiment

    out: dict = {}
    per_seed: dict[str, list[dict]] = {}
    targets: dict[str, dict[str, bool]] = {}
    for split, suffix in splits:
        runs = []
        for seed in seeds:
            r = experiment.run(engines, split, rounds, epochs, seed=seed, restart_optimizer=restart_baselines, n_factories=factories, truncations=truncations, **prepare_kw)
            runs.append({"seed": seed, **r})
        per_seed[split] = runs
        out[f"fed_rmse{suffix}"] = _mean([r["fed_rmse"] for r in runs])
        out[f"central_rmse{suffix}"] = _mean([r["central_rmse"] for r in runs])
        out[f"local_rmse_best{suffix}"] = _mean([r["local_rmse_best"] for r in runs])
        out[f"fed_vs_central{suffix}"] = round(sum(r["fed_vs_central"] for r in runs) / len(runs), 4)
        out[f"fed_rmse{suffix}_per_seed"] = [r["fed_rmse"] for r in runs]
        out[f"central_rmse{suffix}_per_seed"] = [r["central_rmse"] for r in runs]
        out[f"local_rmse_best{suffix}_per_seed"] = [r["local_rmse_best"] for r in runs]
        targets[split] = {
            f"fed_rmse_le_{RMSE_TARGET:g}": all(r["fed_rmse"] <= RMSE_TARGET for r in runs),
            "fed_within_5pct_of_central": all(r["fed_rmse"] <= (1 + CENTRAL_MARGIN) * r["central_rmse"] for r in runs),
            "fed_beats_every_factory_alone": all(r["fed_rmse"] < r["local_rmse_best"] for r in runs),
        }
    out["targets"] = targets
    out["targets_all_met"] = all(v for t in targets.values() for v in t.values())
    out["per_seed"] = per_seed
    return out


def main() -> None:
    from fl_node import cmapss, experiment
    from fl_node.model import configure_tensorflow

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(experiment.DATA))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--factories", type=int, default=4)
    ap.add_argument("--truncations", type=int, default=5)
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
    engines = cmapss.load_file(a.data)
    model, train = json.loads(a.model), json.loads(a.train)
    spec_defaults = experiment.make_spec(cmapss.Normalization(("s2",), "minmax", (0.0,), (1.0,)), model=model, train=train)
    out: dict = {"rounds": a.rounds, "local_epochs": a.epochs, "factories": a.factories, "seeds": seeds,
                 "model": spec_defaults["model"], "train": {**spec_defaults["train"], "epochs": a.epochs}, "norm": a.norm,
                 "restart_baselines": a.restart_baselines}
    out.update(accuracy(engines, a.rounds, a.epochs, seeds, a.factories, a.truncations, restart_baselines=a.restart_baselines,
                        model=model, train=train, norm_kind=a.norm))
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
