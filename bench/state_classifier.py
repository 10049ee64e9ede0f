"""Bearing-state classifier (healthy / degraded / critical / failure) across factories that run the same bearing at
different operating points: federated vs centralized vs each factory alone. Prints one JSON object.

Four simulated plants (tasks/bearing/experiment.py FACTORIES: speeds 1200-2400 rpm, loads 0.7-1.2, background noise,
ambient temperature and structural resonance differ; each has seen mostly healthy running and few failures, one none)
train the same MLP over vibration features: federated (fedavg of the one local update), on all data pooled (the upper
bound nobody can have) and each alone (its own standardization). Every model is scored on fresh windows from every
plant's operating point (the fleet; `--test-per-state` per state and plant) and on each plant's own test windows.
Usage:
  python bench/state_classifier.py [--seeds 0,1,2] [--rounds 20] [--epochs 2] [--test-per-state 50] [--threads 2]

Keys: `federated`, `centralized`, `alone` (one per plant): accuracy, recall per state, false_alarm_rate (healthy
windows predicted degraded or worse), confusion matrix (rows true, columns predicted, summed over the seeds),
per-plant accuracy; means over the seeds, per-seed values in `per_seed`. `targets`: federated accuracy > 0.85,
critical recall > 0.95, false-alarm rate < 0.05, federated accuracy above every plant alone (on the seed means).
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

TARGETS = {"accuracy": 0.85, "critical_recall": 0.95, "false_alarm_rate": 0.05}


def summarize(runs: list[dict]) -> dict:
    """Seed means of each contender's accuracy, critical recall and false-alarm rate; confusion matrices summed. Pure."""
    mean = lambda values: round(sum(values) / len(values), 4)

    def one(pick) -> dict:
        reports = [pick(r) for r in runs]
        states = list(reports[0]["recall"])
        confusion = [[sum(rep["confusion"][t][p] for rep in reports) for p in range(len(states))] for t in range(len(states))]
        return {
            "accuracy": mean([rep["accuracy"] for rep in reports]),
            "critical_recall": mean([rep["recall"]["critical"] for rep in reports]),
            "false_alarm_rate": mean([rep["false_alarm_rate"] for rep in reports]),
            "recall": {s: mean([rep["recall"][s] for rep in reports]) for s in states},
            "per_plant_accuracy": [mean([rep["per_factory_accuracy"][i] for rep in reports]) for i in range(len(reports[0]["per_factory_accuracy"]))],
            "confusion": confusion,
        }

    out = {"federated": one(lambda r: r["federated"]), "centralized": one(lambda r: r["centralized"]),
           "alone": [one(lambda r, i=i: r["alone"][i]) for i in range(len(runs[0]["alone"]))]}
    fed, best_alone = out["federated"], max(a["accuracy"] for a in out["alone"])
    out["alone_accuracy_best"] = best_alone
    out["targets"] = {
        "fed_accuracy_gt_0.85": fed["accuracy"] > TARGETS["accuracy"],
        "fed_critical_recall_gt_0.95": fed["critical_recall"] > TARGETS["critical_recall"],
        "fed_false_alarm_rate_lt_0.05": fed["false_alarm_rate"] < TARGETS["false_alarm_rate"],
        "fed_beats_every_plant_alone": fed["accuracy"] > best_alone,
    }
    out["targets_all_met"] = all(out["targets"].values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=2, help="local epochs per round")
    ap.add_argument("--test-per-state", type=int, default=50, help="test windows per state and plant")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    from tasks.bearing.experiment import FACTORIES, run_factories
    from tasks.model import configure_tensorflow

    configure_tensorflow(a.threads)
    t0, runs = time.time(), []
    for seed in [int(s) for s in a.seeds.split(",")]:
        r = run_factories(FACTORIES, a.test_per_state, a.rounds, a.epochs, seed)
        runs.append({"seed": seed, **r})
        print(f"seed {seed}: federated accuracy {r['federated']['accuracy']:.3f}, centralized {r['centralized']['accuracy']:.3f}, alone "
              + " ".join(f"{x['accuracy']:.3f}" for x in r["alone"]) + f" ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    out = {"bench": "state_classifier", "rounds": a.rounds, "local_epochs": a.epochs, "seeds": [r["seed"] for r in runs],
           "test_windows_per_seed": runs[0]["test_windows"], "factories": runs[0]["factories"], **summarize(runs),
           "per_seed": [{k: v for k, v in r.items() if k not in ("factories", "test_windows")} for r in runs], "seconds": round(time.time() - t0, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
