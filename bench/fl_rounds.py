"""Cost of running federated rounds on the chain, side by side with the same rounds in memory. Prints one JSON object.

(a) chain round: a real anvil with a bootstrapped consortium, a task published by the coordinator, and per round
    `open_round` + the real `TrainerNode.step()` of 4 factories + `AggregatorNode.step()` of 3 aggregators
    (in-process, one `LocalStore` in a temp dir), timed from opening the round to its finalization.
(b) memory round: `fl_node.trainer.memory_round`, the same `Trainer.fit` a TrainerNode calls (same seed rule,
    learning rate, epochs), then `aggregate.fedavg` in trainer-address order; no chain, no storage, no serialization.
Rounds alternate (b) then (a) from the same global model, so load from other users of the cores hits both alike;
round 1 is a warm-up (TensorFlow start-up, spec/data loading) and is reported but not in the ratio.
round_overhead_ratio = sum(a) / sum(b) over the measured rounds. The in-memory aggregate must be bit-identical to the
one the chain finalized (`memory_matches_chain`).

Gas comes from the receipts (`fl_node.coordinator.round_report`): of opening a round, of a commit (per trainer), of a
vote that does not finalize and of the vote that finalizes (per aggregator that voted). `gas_profile` (always run, no
TensorFlow: small synthetic updates) measures the same at 4 trainers x 3 aggregators in two rounds: all honest, and
with one aggregator voting a different aggregate first (so the finalizing vote records a dissent, as in the demo).
Targets (issue 15): a commit <= 100,000 gas, every vote <= 80,000.

The accuracy part (skipped by `--quick`) is bench/fl_accuracy.py's `accuracy` over `--seeds`.
Usage: python bench/fl_rounds.py [--quick] [--data PATH] [--rounds 5] [--epochs 2] [--seeds 0,1,2] [--acc-rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

COMMIT_GAS_TARGET, VOTE_GAS_TARGET = 100_000, 80_000
TRAINERS = [f"factory-{i}" for i in range(1, 5)]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]


def consortium(tmp: Path, url: str, factories: int = 4):
    """The demo's consortium (3 governors, `factories` factories, a maker, 3 aggregators) on the chain at `url`, fresh keys."""
    from eth_account import Account

    from chain.connect import connect
    from fedpm.consortium.bootstrap import bootstrap, demo_plan
    from fedpm.settings import load_settings

    ctx = connect(load_settings({"home": tmp / "home", "keys.password": "bench", "keys.scrypt_n": 2**10, "keys.allow_weak_scrypt": True,
                                 "chain.rpc_url": url}, env={}))
    plan = demo_plan(factories=factories)
    devices = {f"factory-{i}-m1": Account.create() for i in range(1, 5)}
    return bootstrap(ctx, plan, {p.org: Account.create() for p in plan}, threshold=2, devices=devices)


def round_gas(fl, rep) -> dict[str, list[int]]:
    """Gas of one round's transactions from its report: open, commits, votes that did not finalize, the finalizing vote."""
    receipt_gas = lambda ref: int(fl.ctx.w3.eth.get_transaction_receipt(ref.tx)["gasUsed"])  # noqa: E731
    opened, finalized = rep.ref("RoundOpened"), rep.ref("RoundFinalized")
    out: dict[str, list[int]] = {"open": [receipt_gas(opened)] if opened else [], "commit": list(rep.gas_commit.values()), "vote": [], "finalize": []}
    for agg, gas in rep.gas_vote.items():
        out["finalize" if finalized and rep.ref("AggregateVoted", agg).tx == finalized.tx else "vote"].append(gas)
    return out


def gas_summary(gas: dict[str, list[int]], prefix: str = "gas") -> dict:
    votes = gas["vote"] + gas["finalize"]
    return {
        f"{prefix}_open_round": int(round(statistics.mean(gas["open"]))),
        f"{prefix}_per_trainer": int(round(statistics.mean(gas["commit"]))),
        f"{prefix}_commit_range": [min(gas["commit"]), max(gas["commit"])],
        f"{prefix}_vote": int(round(statistics.mean(gas["vote"]))) if gas["vote"] else None,
        f"{prefix}_finalizing_vote": int(round(statistics.mean(gas["finalize"]))),
        f"{prefix}_per_aggregator": int(round(statistics.mean(votes))),
        f"{prefix}_vote_range": [min(votes), max(votes)],
        f"{prefix}_targets_met": max(gas["commit"]) <= COMMIT_GAS_TARGET and max(votes) <= VOTE_GAS_TARGET,
    }


def gas_profile() -> dict:
    """Gas at 4 trainers x 3 aggregators without training: round 1 honest, round 2 with a lying aggregator voting first."""
    import numpy as np
    from eth_utils import keccak

    from chain.node import LocalChain
    from fl_node.coordinator import publish_task, round_report
    from fl_node.modelfile import encode_weights
    from fl_node.nodes import AggregatorNode
    from fl_node.rounds import FederatedLearning, RoundState
    from fl_node.spec import TaskSpec
    from fl_node.storage.local import LocalStore

    spec = TaskSpec.from_dict({"task": "gas-profile", "train": {"epochs": 1, "batch_size": 32}, "aggregation": {"rule": "fedavg", "params": {}}})
    model = lambda v: [("00.w", np.full((3, 2), v, np.float32)), ("01.b", np.full((2,), v, np.float32))]  # noqa: E731
    out: dict = {"gas_targets": {"commit": COMMIT_GAS_TARGET, "vote": VOTE_GAS_TARGET}}
    with tempfile.TemporaryDirectory(prefix="fedpm-gas-") as tmp, LocalChain() as node:
        c = consortium(Path(tmp), node.url)
        fl, store = FederatedLearning(c.ctx), LocalStore(Path(tmp) / "store")
        task_id = publish_task(fl, c.sender("gov-a"), store, spec, model(0.0), rounds=2, min_participants=3,
                               trainers=[c.accounts[t].address for t in TRAINERS], aggregators=[c.accounts[a].address for a in AGGREGATORS])
        for r, case in ((1, "honest"), (2, "one_liar")):
            start = fl.ctx.w3.eth.block_number
            fl.open_round(c.sender("gov-a"), task_id)
            for i, t in enumerate(TRAINERS):
                blob = encode_weights(model(float(i + r)), spec.to_json())
                fl.commit(c.sender(t), task_id, r, keccak(blob), store.add(blob), 100 + i, 0.5)
            for a in AGGREGATORS:
                AggregatorNode(fl, c.sender(a), store, task_id, Path(tmp) / a, log=lambda _: None, byzantine=(case == "one_liar" and a == "agg-1")).step()
            if fl.round(task_id, r).state != RoundState.FINALIZED:
                raise RuntimeError(f"gas profile round {r} did not finalize")
            out.update(gas_summary(round_gas(fl, round_report(fl, task_id, r, from_block=start)), prefix=f"gas_{case}"))
    return out


def chain_rounds(data: Path, rounds: int, epochs: int, seed: int = 0) -> dict:
    from eth_utils import keccak

    from chain.node import LocalChain
    from tasks.rul import cmapss
    from tasks.rul import experiment
    from tasks import model as M
    from fl_node.coordinator import publish_task, round_report
    from fl_node.modelfile import decode_weights, encode_weights
    from fl_node.nodes import AggregatorNode, TrainerNode
    from fl_node.rounds import FederatedLearning, RoundState
    from fl_node.storage.local import LocalStore
    from fl_node.trainer import memory_round
    from tasks.model import KerasTrainer

    engines = cmapss.load_file(data)
    setup = experiment.prepare(engines, n_factories=4, split="iid", seed=seed, train={"epochs": epochs})
    spec = setup.spec
    trainers, aggregators = TRAINERS, AGGREGATORS
    out: dict = {"chain_rounds": rounds, "chain_local_epochs": epochs, "windows_per_factory": [int(len(x)) for x, _ in setup.factory_data]}
    with tempfile.TemporaryDirectory(prefix="fedpm-fl-rounds-") as tmp, LocalChain() as node:
        c = consortium(Path(tmp), node.url)
        fl = FederatedLearning(c.ctx)
        store = LocalStore(Path(tmp) / "store")
        initial = M.get_weights(M.build_model(spec, seed=0))
        task_id = publish_task(fl, c.sender("gov-a"), store, spec, initial, rounds=rounds, min_participants=3,
                               trainers=[c.accounts[t].address for t in trainers], aggregators=[c.accounts[a].address for a in aggregators])
        quiet = lambda _line: None  # noqa: E731
        fits = [KerasTrainer(spec, *xy) for xy in setup.factory_data]  # arrays already windowed: no factory files
        tnodes = [TrainerNode(fl, c.sender(t), store, task_id, Path(tmp) / t, log=quiet, trainer_for=lambda _spec, f=f: f, seed=i)
                  for i, (t, f) in enumerate(zip(trainers, fits))]
        anodes = [AggregatorNode(fl, c.sender(a), store, task_id, Path(tmp) / a, log=quiet) for a in aggregators]
        # the chain aggregates in trainer-address order: the memory round sums in the same order
        order = sorted(range(4), key=lambda i: c.accounts[trainers[i]].address.lower())
        mem_trainers = [fits[i] for i in order]
        mem_seeds = order
        base = initial
        chain_s, mem_s, matches, rmse = [], [], [], []
        gas: dict[str, list[int]] = {"open": [], "commit": [], "vote": [], "finalize": []}
        for r in range(1, rounds + 1):
            t0 = time.perf_counter()
            mem_model = memory_round(mem_trainers, mem_seeds, base, r, epochs)
            mem_s.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            receipt_block = fl.ctx.w3.eth.block_number
            opened = fl.open_round(c.sender("gov-a"), task_id)
            for n in tnodes:
                n.step()
            for a in anodes:
                a.step()
            view = fl.round(task_id, opened)
            chain_s.append(time.perf_counter() - t0)
            if view.state != RoundState.FINALIZED:
                raise RuntimeError(f"round {opened} ended {view.state.name}")
            chain_bytes = store.cat(view.result_cid)
            matches.append(keccak(encode_weights(mem_model, spec.to_json())) == view.result_hash)
            rep = round_report(fl, task_id, opened, from_block=receipt_block)
            for kind, values in round_gas(fl, rep).items():
                gas[kind] += values
            base = decode_weights(chain_bytes)
            rmse.append(round(experiment.evaluate_named(spec, base, setup.test_x, setup.test_y)["rmse"], 3))
        measured = slice(1, None) if rounds > 1 else slice(0, None)
        out.update({
            "round_overhead_ratio": round(sum(chain_s[measured]) / sum(mem_s[measured]), 3),
            "chain_round_seconds": [round(s, 3) for s in chain_s],
            "memory_round_seconds": [round(s, 3) for s in mem_s],
            "overhead_seconds_per_round": round(statistics.mean(a - b for a, b in zip(chain_s[measured], mem_s[measured])), 3),
            "memory_matches_chain": all(matches),
            **gas_summary(gas),
            "votes_per_round": (len(gas["vote"]) + len(gas["finalize"])) / rounds,
            "chain_round_rmse": rmse,
            "model_bytes": len(chain_bytes),
        })
    return out


def main() -> None:
    from fedpm.settings import load_settings
    from tasks.rul import cmapss
    from tasks.model import configure_tensorflow

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the (slow) accuracy part")
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data, FEDPM_FL_DATA)")
    ap.add_argument("--rounds", type=int, default=5, help="chain rounds to time (round 1 is a warm-up)")
    ap.add_argument("--epochs", type=int, default=2, help="local epochs per round")
    ap.add_argument("--acc-rounds", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    configure_tensorflow(a.threads)
    t0 = time.time()
    out: dict = gas_profile()
    data = a.data or load_settings().fl.data_file
    out.update(chain_rounds(data, a.rounds, a.epochs))
    if not a.quick:
        from fl_accuracy import accuracy

        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
        out.update({"acc_rounds": a.acc_rounds, "acc_local_epochs": a.epochs, "seeds": seeds})
        out.update(accuracy(cmapss.load_file(data), a.acc_rounds, a.epochs, seeds))
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
