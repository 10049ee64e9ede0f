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
  python bench/rul_search.py --table out/rul_search/log.jsonl [--notes NOTES.jsonl]   # markdown table of everything logged
  python bench/rul_search.py --summary LOG.jsonl ... [--notes NOTES.jsonl] [--plot PNG]  # the logged runs as one JSON
      object without the predictions (what docs/rul-model-search.json holds), and their picture
A notes file holds runs stopped before their last fold: {"name", "config", "note"} per line; they are listed, unscored.
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
# centralized models on the official FD001 test set (last cycle of 100 engines), for the picture
LITERATURE = {"MS-DCNN (Li 2020)": 11.44, "AGCNN (Liu 2020)": 12.42, "1D-CNN (Li 2018)": 12.61}


def run(engines, cfg: dict, split: str, seed: int, folds: int, contenders: set[str]) -> dict:
    """One config on one split and seed, every fold; pooled RMSEs (federated after every round, baselines at the end)."""
    import numpy as np

    from tasks.rul import experiment
    from tasks.rul.evaluate import rmse

    rounds, epochs = int(cfg.get("rounds", 5)), int(cfg.get("epochs", 2))
    kw = {k: cfg[k] for k in ("window", "rul_cap", "age_scale") if k in cfg}
    ys, fed, central, local, by_fold, t0 = [], [], [], [], [], time.time()
    for fold in range(folds):
        s = experiment.prepare(engines, split=split, seed=seed, fold=fold, folds=folds, model=cfg.get("model"), train=cfg.get("train"),
                               norm_kind=cfg.get("norm", "minmax"), aggregation=cfg.get("aggregation"), **kw)
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
        if per_round:
            by_fold.append(round(rmse(per_round[-1], ys[-1]), 3))
        done = f"fed {by_fold[-1]:.2f}" if per_round else ""
        print(f"{cfg['name']} {split} seed {seed} fold {fold}: {done} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    y = np.concatenate(ys)
    out: dict = {"name": cfg["name"], "config": cfg, "split": split, "seed": seed, "folds": folds, "test_windows": int(len(y))}
    if fed and fed[0]:
        out["fed_rmse_by_round"] = [round(rmse(np.concatenate([f[r] for f in fed]), y), 3) for r in range(rounds)]
        out["fed_rmse"] = out["fed_rmse_by_round"][-1]
        out["fed_rmse_by_fold"] = by_fold
        out["fed_pred"] = [round(float(p), 2) for p in np.concatenate([f[-1] for f in fed])]  # for error analyses, with y
        out["y"] = [float(v) for v in y]
    if central:
        out["central_rmse"] = round(rmse(np.concatenate(central), y), 3)
    if local:
        out["local_rmse"] = [round(rmse(np.concatenate([f[i] for f in local]), y), 3) for i in range(len(local[0]))]
    out["seconds"] = round(time.time() - t0, 1)
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _grouped(paths: list[Path]) -> dict[tuple[str, str, int], list[dict]]:
    """Logged runs by (config, split, folds) in the order first logged; a run logged twice (same name, split, seed,
    folds) counts once."""
    rows: dict[tuple[str, str, int], list[dict]] = {}
    seen = set()
    for path in paths:
        for r in _lines(path):
            key = (r["name"], r["split"], r["seed"], r["folds"])
            if key not in seen:
                seen.add(key)
                rows.setdefault((r["name"], r["split"], r["folds"]), []).append(r)
    return rows


def table(paths: list[Path], notes: Path | None = None) -> str:
    """Markdown: one row per (config, split, folds), seeds averaged, in the order first logged; then the stopped runs."""
    rows = _grouped(paths)
    out = ["| config | split | seeds | folds | federated RMSE by round | federated | centralized | best factory | s/run | what |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, split, _), runs in rows.items():
        mean = lambda key: f"{sum(r[key] for r in runs) / len(runs):.2f}" if all(key in r for r in runs) else ""
        by_round = ""
        if all("fed_rmse_by_round" in r for r in runs):
            n = min(len(r["fed_rmse_by_round"]) for r in runs)
            by_round = " ".join(f"{sum(r['fed_rmse_by_round'][k] for r in runs) / len(runs):.2f}" for k in range(n))
        best = f"{sum(min(r['local_rmse']) for r in runs) / len(runs):.2f}" if all("local_rmse" in r for r in runs) else ""
        cfg = {k: v for k, v in runs[0]["config"].items() if k != "name"}
        out.append(f"| {name} | {split} | {','.join(str(r['seed']) for r in runs)} | {runs[0]['folds']} | {by_round} | {mean('fed_rmse')} | "
                   f"{mean('central_rmse')} | {best} | {sum(r['seconds'] for r in runs) / len(runs):.0f} | `{json.dumps(cfg, separators=(',', ':'))}` |")
    for n in _lines(notes) if notes else []:
        out.append(f"| {n['name']} | | | | {n['note']} | | | | | `{json.dumps(n['config'], separators=(',', ':'))}` |")
    return "\n".join(out)


def summary(paths: list[Path], notes: Path | None = None) -> dict:
    """Every logged run without its predictions, plus the stopped runs: small enough to check in."""
    keep = ("name", "config", "split", "seed", "folds", "test_windows", "fed_rmse", "fed_rmse_by_round", "fed_rmse_by_fold", "central_rmse", "local_rmse", "seconds")
    runs = [{k: r[k] for k in keep if k in r} for group in _grouped(paths).values() for r in group]
    return {"bench": "rul_search", "eval_cap": EVAL_CAP, "runs": runs, "stopped": _lines(notes) if notes else []}


def plot(summ: dict, path: str, literature: dict[str, float]) -> None:
    """Left: pooled federated RMSE per config (the runs of the first logged split, seed and fold count), literature
    results as lines. Right: the pooled RMSE after every round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in summ["runs"] if "fed_rmse" in r]
    runs = [r for r in scored if (r["split"], r["seed"], r["folds"]) == (scored[0]["split"], scored[0]["seed"], scored[0]["folds"])]
    fig, (bars, curves) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=120, gridspec_kw={"width_ratios": [1.2, 1]})
    order = sorted(runs, key=lambda r: r["fed_rmse"])
    best = order[0]["fed_rmse"]
    bars.barh([r["name"] for r in order], [r["fed_rmse"] for r in order], color=["tab:green" if r["fed_rmse"] == best else "tab:blue" for r in order])
    for i, r in enumerate(order):
        bars.text(r["fed_rmse"] + 0.05, i, f"{r['fed_rmse']:.2f}", va="center", fontsize=8)
    for (label, value), style in zip(literature.items(), ("--", "-.", ":")):
        bars.axvline(value, color="gray", linestyle=style, linewidth=1, label=f"{label} {value}")
    bars.set_xlim(10, max(r["fed_rmse"] for r in order) + 1.5)
    bars.invert_yaxis()
    bars.set_xlabel("pooled federated RMSE (cycles, RUL capped at 125)")
    bars.legend(fontsize=7, loc="upper right", title="centralized, official test set", title_fontsize=7)
    for r in runs:
        curves.plot(range(1, len(r["fed_rmse_by_round"]) + 1), r["fed_rmse_by_round"], marker=".", label=r["name"])
    curves.set_ylim(11.5, 15.5)
    curves.set_xlabel("round")
    curves.set_ylabel("pooled federated RMSE")
    curves.legend(fontsize=7)
    curves.grid(alpha=0.3)
    fig.suptitle(f"RUL model search on FD001: 4 factories, {runs[0]['split']} split, {runs[0]['folds']}-fold CV pooled, seed {runs[0]['seed']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


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
    ap.add_argument("--summary", type=Path, nargs="*", default=None, help="print these logs as one JSON object (no predictions) and exit")
    ap.add_argument("--notes", type=Path, default=None, help="runs stopped before their last fold (JSON lines), for --table/--summary")
    ap.add_argument("--plot", default=None, help="with --summary: draw the runs to this PNG")
    a = ap.parse_args()
    if a.table is not None:
        print(table(a.table or [a.log], a.notes))
        return
    if a.summary is not None:
        summ = summary(a.summary or [a.log], a.notes)
        if a.plot:
            plot(summ, a.plot, LITERATURE)
        print(json.dumps(summ))
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
