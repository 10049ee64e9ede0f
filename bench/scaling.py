"""Cost curves of a federated round as the federation grows: chain + storage overhead over the in-memory round, and
the aggregator's peak memory, for 4, 8, 16 and 32 trainers and models of about 0.4, 10 and 100 MB. One JSON object.

Workload: the RUL task on C-MAPSS FD001 (the demo's), two thirds of the engines split IID over the factories
(`tasks.rul.experiment.prepare` with 3 folds, so 32 factories still hold one engine per fold), `--epochs` local epochs. The model is the task's 1D-CNN; its dense head is widened to reach the size
(64 units: ~0.44 MB, the demo's model; 1,560: ~10 MB; 15,600: ~100 MB), so training cost grows with the model as a
real one's would. Models of `--synthetic-from` MB and more (default: the 100 MB one, which trains ~10 minutes per
epoch here) are not trained: each trainer's update is the global model plus seeded noise (`Synthetic`), so those
rows measure what chain and storage add in seconds (`overhead_s`, per trainer and per aggregator) and the memory,
while their `overhead_ratio` is over a round without training and is no estimate of the overhead of a real one.
Per (size, trainers), side by side from the same global model:
(a) memory round: `fl_node.trainer.memory_round` (each trainer's `fit` in trainer-address order, streaming FedAvg);
(b) chain round: `openRound` + every in-process `TrainerNode.step()` (fit, canonical bytes, keccak, content store,
    commit) + the `AggregatorNode.step()` of 3 aggregators (fetch, verify, streaming FedAvg, encode, store, vote),
    one anvil and one `LocalStore`, timed from opening the round to its finalization.
The local update is deterministic (same base, data and seed), so (b) replays the updates (a) trained instead of
training them again: training is measured once, in (a), and (b) is its training time plus its measured wall time,
so noise in training time (a shared machine) cannot pass for overhead. overhead_ratio = (b) / (a); the aggregate of
(b) must be bit-identical to (a). Everything runs one after the other in this process, so (b) pays 3 aggregations
where (a) pays one, and both pay every trainer's fit in turn.
`parallel_ratio` composes the measured parts as separate machines would run them (every trainer at once, then every
aggregator at once): (open + max_i(fit_i + trainer overhead_i) + max_j aggregator_j) / (max_i fit_i + aggregate).
It is an estimate from measured parts, not a measured wall time.

Aggregator peak memory: tracemalloc's peak over one aggregator's work after the round (fetch, verify and aggregate every
update, encode, pin and read back the aggregate; numpy buffers and bytes are traced), minus what was allocated before
it, against the bytes of one model: FedAvg streams the updates (one in memory at a
time, besides a float64 accumulator), so the target is <= 3 x model + a constant. `batch_peak_mb` (where all updates
fit in 2 GB) measures the same aggregation holding every update first, as aggregators did before issue 15.

Usage: python bench/scaling.py [--sizes 0.4,10,100] [--trainers 4,8,16,32] [--epochs 1] [--synthetic-from 100]
                              [--max-updates-gb 3.3] [--plot docs/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DENSE_UNITS = {0.4: 64, 10.0: 1560, 100.0: 15600}  # dense head width -> model of about that many MB
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]
OVERHEAD_TARGET, MEMORY_TARGET, MEMORY_CONSTANT_MB = 1.10, 3.0, 64  # peak <= 3 x model + 64 MB (chunk buffers, web3)
BATCH_LIMIT = 2_000_000_000  # bytes of updates held at once by the batch comparison


@dataclass
class Recorded:
    """A Trainer that times its inner trainer's `fit` and keeps each result: asked again for the same (round, seed),
    it replays the result instead of training again (the local update is deterministic: same base, data and seed)."""

    inner: object
    seconds: dict[tuple[int, int], float] = field(default_factory=dict)
    results: dict[tuple[int, int], object] = field(default_factory=dict)

    def fit(self, parameters, config):
        key = (config.round, config.seed)
        if key not in self.results:
            t0 = time.perf_counter()
            self.results[key] = self.inner.fit(parameters, config)
            self.seconds[key] = time.perf_counter() - t0
        return self.results[key]


@dataclass(frozen=True)
class Synthetic:
    """An update without training, for models too big to train here: the base plus seeded noise (float32, the
    model's dtype), with a fixed sample count. Deterministic in (base, seed) as a real local update is."""

    num_examples: int

    def fit(self, parameters, config):
        import numpy as np

        from fl_node.trainer import FitResult

        rng = np.random.default_rng(config.seed)
        new = [(name, (a + rng.standard_normal(a.shape, dtype=np.float32) * np.float32(1e-3)).astype(a.dtype, copy=False)) for name, a in parameters]
        return FitResult(new, self.num_examples, {"loss": 1.0})


def traced_peak(step) -> tuple[object, int]:
    """`step()` and the most bytes it held at once beyond what was allocated before it (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = step()
        return out, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def aggregator_work(node, task, rnd, spec) -> None:
    """What an aggregator's step does with model bytes (outside the timed round, so tracing slows nothing timed):
    fetch, verify and stream every update into FedAvg, encode the aggregate, pin it and read it back."""
    from fl_node.modelfile import encode_weights

    aggregate, _, _ = node.compute(task, rnd, spec)
    blob = encode_weights(aggregate, spec.to_json())
    del aggregate
    if node.store.cat(node.store.add(blob)) != blob:
        raise RuntimeError("the aggregate did not come back intact from the store")


def batch_aggregate(node, task, rnd, spec):
    """The aggregation as it was before streaming: every update fetched and decoded (copied) first, then FedAvg."""
    from fl_node import aggregate as agg
    from fl_node.modelfile import decode_weights
    from fl_node.storage import fetch_verified

    base = decode_weights(fetch_verified(node.store, rnd.base_model_cid, rnd.base_model_hash))
    updates = node.fl.updates(node.task_id, rnd.round)
    cands = [agg.Candidate(t, decode_weights(fetch_verified(node.store, updates[t].cid, updates[t].hash)), updates[t].num_samples) for t in rnd.committed]
    return agg.select_and_aggregate(base, cands, lambda ups: agg.fedavg(list(ups)), max_samples=task.max_samples)


def run_config(engines, size_mb: float, n: int, epochs: int, synthetic: bool = False) -> dict:
    from eth_utils import keccak

    from chain.node import LocalChain
    from fl_node.coordinator import publish_task
    from fl_node.modelfile import encode_weights
    from fl_node.nodes import AggregatorNode, TrainerNode
    from fl_node.rounds import FederatedLearning, RoundState
    from fl_node.storage.local import LocalStore
    from fl_node.trainer import memory_round
    from fl_rounds import consortium
    from tasks import model as M
    from tasks.model import KerasTrainer
    from tasks.rul import experiment

    # 3 folds (two thirds of the engines train) so that 32 factories still hold an engine per fold
    setup = experiment.prepare(engines, n_factories=n, split="iid", seed=0, folds=3, model={"dense": DENSE_UNITS[size_mb]}, train={"epochs": epochs})
    spec = setup.spec
    trainers = [f"factory-{i}" for i in range(1, n + 1)]
    quiet = lambda _line: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="fedpm-scaling-") as tmp, LocalChain() as node:
        c = consortium(Path(tmp), node.url, factories=n)
        fl, store = FederatedLearning(c.ctx), LocalStore(Path(tmp) / "store")
        initial = M.get_weights(M.build_model(spec, seed=0))
        model_bytes = len(encode_weights(initial, spec.to_json()))
        addresses = [c.accounts[t].address for t in trainers]
        task_id = publish_task(fl, c.sender("gov-a"), store, spec, initial, rounds=1, min_participants=n, trainers=addresses,
                               aggregators=[c.accounts[a].address for a in AGGREGATORS])
        fits = [Recorded(Synthetic(len(xy[1])) if synthetic else KerasTrainer(spec, *xy)) for xy in setup.factory_data]
        order = sorted(range(n), key=lambda i: addresses[i].lower())  # the chain sums in trainer-address order

        t0 = time.perf_counter()
        mem_model = memory_round([fits[i] for i in order], order, initial, 1, epochs)
        mem_s = time.perf_counter() - t0
        fit_s = [next(iter(f.seconds.values())) for f in fits]  # by trainer, in `trainers` order

        tnodes = [TrainerNode(fl, c.sender(t), store, task_id, Path(tmp) / t, log=quiet, trainer_for=lambda _spec, f=f: f, seed=i)
                  for i, (t, f) in enumerate(zip(trainers, fits))]
        anodes = [AggregatorNode(fl, c.sender(a), store, task_id, Path(tmp) / a, log=quiet) for a in AGGREGATORS]
        t0 = time.perf_counter()
        fl.open_round(c.sender("gov-a"), task_id)
        open_s = time.perf_counter() - t0
        overhead = []  # each trainer's step without its training (replayed)
        for tn in tnodes:
            t1 = time.perf_counter()
            tn.step()
            overhead.append(time.perf_counter() - t1)
        agg_s = []
        for an in anodes:
            t1 = time.perf_counter()
            an.step()
            agg_s.append(time.perf_counter() - t1)
        chain_s = time.perf_counter() - t0 + sum(fit_s)
        view = fl.round(task_id, 1)
        if view.state != RoundState.FINALIZED:
            raise RuntimeError(f"{n} trainers, {size_mb} MB: the chain round ended {view.state.name}")
        mem_aggregate_s = mem_s - sum(fit_s)
        out = {
            "size_mb_target": size_mb, "trainers": n, "model_bytes": model_bytes, "local_epochs": 0 if synthetic else epochs,
            "training": "synthetic" if synthetic else "keras",
            "memory_round_s": round(mem_s, 3), "chain_round_s": round(chain_s, 3), "overhead_ratio": round(chain_s / mem_s, 3),
            "overhead_s": round(chain_s - mem_s, 3), "open_s": round(open_s, 3),
            "fit_s": round(sum(fit_s), 3), "memory_aggregate_s": round(mem_aggregate_s, 3),
            "trainer_overhead_s": {"mean": round(sum(overhead) / n, 3), "max": round(max(overhead), 3)},
            "aggregator_s": [round(s, 3) for s in agg_s],
            "parallel_ratio": round((open_s + max(f + o for f, o in zip(fit_s, overhead)) + max(agg_s)) / (max(fit_s) + mem_aggregate_s), 3),
            "memory_matches_chain": keccak(encode_weights(mem_model, spec.to_json())) == view.result_hash,
        }
        task, rnd = fl.task(task_id), fl.round(task_id, 1)
        _, peak = traced_peak(lambda: aggregator_work(anodes[0], task, rnd, spec))
        out.update({"aggregator_peak_mb": round(peak / 1e6, 1), "aggregator_peak_over_model": round(peak / model_bytes, 2),
                    "aggregator_peak_above_3x_model_mb": round((peak - MEMORY_TARGET * model_bytes) / 1e6, 1)})
        if n * model_bytes <= BATCH_LIMIT:
            _, batch = traced_peak(lambda: batch_aggregate(anodes[0], task, rnd, spec))
            out.update({"batch_peak_mb": round(batch / 1e6, 1), "batch_peak_over_model": round(batch / model_bytes, 2)})
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for size in sorted({r["size_mb_target"] for r in rows}):
        mine = sorted((r for r in rows if r["size_mb_target"] == size), key=lambda r: r["trainers"])
        ns = [r["trainers"] for r in mine]
        color = f"C{sorted({r['size_mb_target'] for r in rows}).index(size)}"
        if mine[0]["training"] == "keras":  # a synthetic round's ratio is over a round without training
            left.plot(ns, [r["overhead_ratio"] for r in mine], "o-", color=color, label=f"{size:g} MB, one process")
            left.plot(ns, [r["parallel_ratio"] for r in mine], "s--", color=color, alpha=0.6, label=f"{size:g} MB, parties in parallel")
        right.plot(ns, [r["aggregator_peak_mb"] for r in mine], "o-", color=color, label=f"{size:g} MB, streaming FedAvg")
        held = [r for r in mine if "batch_peak_mb" in r]
        if held:
            right.plot([r["trainers"] for r in held], [r["batch_peak_mb"] for r in held], "x:", color=color, label=f"{size:g} MB, all updates held")
        right.axhline(MEMORY_TARGET * mine[0]["model_bytes"] / 1e6 + MEMORY_CONSTANT_MB, color=color, lw=0.8, ls="--")
    left.axhline(OVERHEAD_TARGET, color="grey", lw=0.8)
    right.set_yscale("log")
    for ax, title, ylabel in ((left, "chain + storage round / in-memory round", "ratio (grey: target 1.10)"),
                              (right, "aggregator peak memory", f"MB (dashed: {MEMORY_TARGET:g} x model + {MEMORY_CONSTANT_MB} MB)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks([4, 8, 16, 32], labels=["4", "8", "16", "32"])
        ax.set_xlabel("trainers")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    from fedpm.settings import load_settings
    from tasks.model import configure_tensorflow
    from tasks.rul import cmapss

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="0.4,10,100", help=f"model sizes in MB, from {sorted(DENSE_UNITS)}")
    ap.add_argument("--trainers", default="4,8,16,32")
    ap.add_argument("--epochs", type=int, default=1, help="local epochs per round (1: a 100 MB model trains ~10 minutes per epoch here)")
    ap.add_argument("--synthetic-from", type=float, default=100.0, help="models of this many MB and more get synthetic updates instead of training")
    ap.add_argument("--max-updates-gb", type=float, default=3.3, help="skip a (size, trainers) whose updates together exceed this (the bench holds them all)")
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data)")
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    configure_tensorflow(a.threads)
    engines = cmapss.load_file(a.data or load_settings().fl.data_file)
    t0 = time.time()
    rows, skipped = [], []
    run_config(engines, 0.4, 4, 1)  # warm-up: TensorFlow start-up, first graph builds; not reported
    for size in (float(s) for s in a.sizes.split(",")):
        for n in (int(x) for x in a.trainers.split(",")):
            if n * size > a.max_updates_gb * 1000:
                skipped.append({"size_mb_target": size, "trainers": n, "why": f"{n} updates of {size:g} MB exceed --max-updates-gb {a.max_updates_gb:g}"})
                continue
            rows.append(run_config(engines, size, n, a.epochs, synthetic=size >= a.synthetic_from))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # progress
    largest_n = max(r["trainers"] for r in rows)
    largest_size = max(r["size_mb_target"] for r in rows)
    trained = [r for r in rows if r["training"] == "keras"]
    largest_trained = max((r["size_mb_target"] for r in trained), default=None)
    at = lambda pred: [r["overhead_ratio"] for r in trained if pred(r)]  # noqa: E731
    out = {
        "bench": "scaling", "rows": rows, "skipped": skipped, "seconds": round(time.time() - t0, 1),
        "targets": {"overhead_ratio": OVERHEAD_TARGET, "aggregator_peak_over_model": MEMORY_TARGET, "aggregator_peak_constant_mb": MEMORY_CONSTANT_MB},
        "overhead_ratio_at_most_trainers": at(lambda r: r["trainers"] == largest_n),
        "overhead_ratio_at_largest_trained_model": at(lambda r: r["size_mb_target"] == largest_trained),
        "overhead_target_met_where_trained": all(x <= OVERHEAD_TARGET for x in at(lambda r: r["trainers"] == largest_n or r["size_mb_target"] == largest_trained)),
        "largest_model_trained": largest_trained == largest_size,
        "memory_target_met": all(r["aggregator_peak_above_3x_model_mb"] <= MEMORY_CONSTANT_MB for r in rows),
        "all_aggregates_match_memory": all(r["memory_matches_chain"] for r in rows),
    }
    if a.plot:
        plot(rows, a.plot)
        out["plot"] = str(a.plot)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
