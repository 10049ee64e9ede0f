"""Model and recipe search for the RUL task on the cross-validated FD001 protocol of bench/fl_accuracy.py. Prints one
JSON object per run (one config, split and seed) and appends it to --log (JSON lines), so a long search survives
interruptions and every configuration tried stays on record (docs/rul-model-search.md is drawn from the log: --table).

A config is JSON: {"name": ..., "model": {...}, "train": {...}, "aggregation": {...}, "window": W, "rul_cap": C, "age_scale": A,
"rounds": R, "epochs": E, "norm": "minmax"|"zscore"}; every key but name is optional (defaults: the task spec's and
5 rounds x 2 local epochs). The federated model is scored after every round (`fed_rmse_by_round`): the per-round
learning rate does not depend on the number of rounds, so round k of a longer run is the k-round federation.
The score is always against the RUL capped at 125 (the protocol's), whatever cap a config trains with.
Screen on seeds that the final report does not use (the report uses 0, 1, 2), so the choice is not tuned on the
folds it is reported on.
Usage:
  python bench/rul_search.py --config '{"name": "base"}' [--config ...] [--configs FILE.json] [--seeds 10]
      [--splits iid,life] [--folds 5] [--contenders fed,central,local] [--log out/rul_search/log.jsonl]
  python bench/rul_search.py --table out/rul_search/log.jsonl    # markdown table of everything logged
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

EVAL_CAP = 125.0


def run(engines, cfg: dict, split: str, seed: int, folds: int, contenders: set[str]) -> dict:
    """One config on one split and seed, every fold; pooled RMSEs (federated after every round, baselines at the end)."""
    import numpy as np

    from tasks.rul import experiment
    from tasks.rul.evaluate import rmse

    rounds, epochs = int(cfg.get("rounds", 5)), int(cfg.get("epochs", 2))
    kw = {k: cfg[k] for k in ("window", "rul_cap", "age_scale") if k in cfg}
    ys, fed, central, local, t0 = [], [], [], [], time.time()
    for fold in range(folds):
        s = experiment.prepare(engines, split=split, seed=seed, fold=fold, folds=folds, model=cfg.get("model"), train=cfg.get("train"),
                               norm_kind=cfg.get("norm", "minmax"), **kw)
        if cfg.get("aggregation"):
            s.spec["aggregation"] = cfg["aggregation"]
        ys.append(np.minimum(s.test_y, EVAL_CAP))
        per_round: list[np.ndarray] = []
        if "fed" in contenders:
            experiment.federated_train(s.spec, s.factory_data, rounds, epochs, seed,
                                       on_round=lambda r, named: per_round.append(experiment.predict_named(s.spec, named, s.test_x)))
        fed.append(per_round)
        solo = dict(epochs_per_round=epochs)
        if "central" in contenders:
            x_all, y_all = np.concatenate([x for x, _ in s.factory_data]), np.concatenate([y for _, y in s.factory_data])
            central.append(experiment.predict_named(s.spec, experiment.solo_train(s.spec, x_all, y_all, rounds * epochs, seed, **solo), s.test_x))
        if "local" in contenders:
            local.append([experiment.predict_named(s.spec, experiment.solo_train(s.spec, x, y, rounds * epochs, seed, **solo), s.test_x) for x, y in s.factory_data])
        done = f"fed {rmse(per_round[-1], ys[-1]):.2f}" if per_round else ""
        print(f"{cfg['name']} {split} seed {seed} fold {fold}: {done} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    y = np.concatenate(ys)
    out: dict = {"name": cfg["name"], "config": cfg, "split": split, "seed": seed, "folds": folds, "test_windows": int(len(y))}
    if fed and fed[0]:
        out["fed_rmse_by_round"] = [round(rmse(np.concatenate([f[r] for f in fed]), y), 3) for r in range(rounds)]
        out["fed_rmse"] = out["fed_rmse_by_round"][-1]
        out["fed_pred"] = [round(float(p), 2) for p in np.concatenate([f[-1] for f in fed])]  # for error analyses, with y
        out["y"] = [float(v) for v in y]
    if central:
        out["central_rmse"] = round(rmse(np.concatenate(central), y), 3)
    if local:
        out["local_rmse"] = [round(rmse(np.concatenate([f[i] for f in local]), y), 3) for i in range(len(local[0]))]
    out["seconds"] = round(time.time() - t0, 1)
    return out


def table(paths: list[Path]) -> str:
    """Markdown: one row per (config, split), seeds averaged, in the order first logged."""
    rows: dict[tuple[str, str], list[dict]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows.setdefault((r["name"], r["split"]), []).append(r)
    out = ["| config | split | seeds | folds | federated RMSE by round | federated | centralized | best factory | s/run | what |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, split), runs in rows.items():
        mean = lambda key: f"{sum(r[key] for r in runs) / len(runs):.2f}" if all(key in r for r in runs) else ""
        by_round = ""
        if all("fed_rmse_by_round" in r for r in runs):
            n = min(len(r["fed_rmse_by_round"]) for r in runs)
            by_round = " ".join(f"{sum(r['fed_rmse_by_round'][k] for r in runs) / len(runs):.2f}" for k in range(n))
        best = f"{sum(min(r['local_rmse']) for r in runs) / len(runs):.2f}" if all("local_rmse" in r for r in runs) else ""
        cfg = {k: v for k, v in runs[0]["config"].items() if k != "name"}
        out.append(f"| {name} | {split} | {','.join(str(r['seed']) for r in runs)} | {runs[0]['folds']} | {by_round} | {mean('fed_rmse')} | "
                   f"{mean('central_rmse')} | {best} | {sum(r['seconds'] for r in runs) / len(runs):.0f} | `{json.dumps(cfg, separators=(',', ':'))}` |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data, FEDPM_FL_DATA)")
    ap.add_argument("--config", action="append", default=[], help="one config as JSON (repeatable)")
    ap.add_argument("--configs", type=Path, default=None, help="a JSON list of configs")
    ap.add_argument("--seeds", default="10")
    ap.add_argument("--splits", default="iid")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--contenders", default="fed", help="comma-separated: fed, central, local")
    ap.add_argument("--log", type=Path, default=Path("out/rul_search/log.jsonl"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table", type=Path, nargs="*", default=None, help="print the markdown table of these logs and exit")
    a = ap.parse_args()
    if a.table is not None:
        print(table(a.table or [a.log]))
        return
    configs = [json.loads(c) for c in a.config] + (json.loads(a.configs.read_text()) if a.configs else [])
    if not configs or any("name" not in c for c in configs):
        ap.error("give at least one --config or --configs, each with a name")
    from fedpm.settings import load_settings
    from tasks.model import configure_tensorflow
    from tasks.rul import cmapss

    configure_tensorflow(a.threads)
    engines = cmapss.load_file(a.data or load_settings().fl.data_file)
    a.log.parent.mkdir(parents=True, exist_ok=True)
    for cfg in configs:
        for split in [s.strip() for s in a.splits.split(",") if s.strip()]:
            for seed in [int(s) for s in a.seeds.split(",")]:
                out = run(engines, cfg, split, seed, a.folds, set(a.contenders.split(",")))
                with a.log.open("a") as fh:
                    fh.write(json.dumps(out) + "\n")
                print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
