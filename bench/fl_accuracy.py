"""Federated vs centralized vs factory-alone RUL accuracy on C-MAPSS FD001. Prints one JSON object.

80 engines train (4 factories, IID and non-IID by engine life), 20 held out and truncated at random cycles
(`--truncations` cuts per engine, as separate test engines, to steady the RMSE). Usage:
  python bench/fl_accuracy.py [--data PATH] [--rounds 10] [--epochs 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from fl_node import cmapss, experiment

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(experiment.DATA))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--factories", type=int, default=4)
    ap.add_argument("--truncations", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    engines = cmapss.load_file(a.data)
    out: dict = {"rounds": a.rounds, "local_epochs": a.epochs, "factories": a.factories}
    for split, suffix in (("iid", ""), ("life", "_noniid")):
        r = experiment.run(engines, split, a.rounds, a.epochs, seed=a.seed, n_factories=a.factories, truncations=a.truncations)
        out.update({f"{k}{suffix}": v for k, v in r.items()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
