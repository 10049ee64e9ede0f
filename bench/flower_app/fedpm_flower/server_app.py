"""The Flower ServerApp: FedAvg over every node each round from fedpm's initial model; after each round it records
the time and, after the last, the global model (the bench evaluates it as it does fedpm's)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    from tasks.model import build_model, get_weights
    from tasks.registry import load_spec_file

    cfg = context.run_config
    spec = load_spec_file(str(cfg["spec"]))
    out, rounds, nodes = Path(str(cfg["out"])), int(cfg["rounds"]), int(cfg["nodes"])
    initial = get_weights(build_model(spec, seed=0))  # fedpm's publish_task starts from this model too

    def record(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        with (out / "rounds.jsonl").open("a") as fh:
            fh.write(json.dumps({"round": server_round, "t": time.time()}) + "\n")
        if server_round == rounds:
            np.savez(out / "final.npz", **{name: a.numpy() for name, a in arrays.items()})
        return None

    strategy = FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=nodes, min_available_nodes=nodes)
    strategy.start(grid=grid, initial_arrays=ArrayRecord({name: Array(a) for name, a in initial}), num_rounds=rounds, train_config=ConfigRecord({}),
                   evaluate_fn=record)
