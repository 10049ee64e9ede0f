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

Gas comes from the receipts (`fl_node.coordinator.round_report`): mean gas of a commit (per trainer) and of a vote
(per aggregator that voted).

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

def chain_rounds(data: Path, rounds: int, epochs: int, seed: int = 0) -> dict:
    from eth_account import Account
    from eth_utils import keccak

    from chain.connect import connect
    from chain.node import LocalChain
    from fedpm.consortium.bootstrap import bootstrap, demo_plan
    from fedpm.settings import load_settings
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
    trainers = [f"factory-{i}" for i in range(1, 5)]
    aggregators = ["agg-1", "agg-2", "agg-3"]
    out: dict = {"chain_rounds": rounds, "chain_local_epochs": epochs, "windows_per_factory": [int(len(x)) for x, _ in setup.factory_data]}
    with tempfile.TemporaryDirectory(prefix="fedpm-fl-rounds-") as tmp, LocalChain() as node:
        home = Path(tmp) / "home"
        ctx = connect(load_settings({"home": home, "keys.password": "bench", "keys.scrypt_n": 2**10, "keys.allow_weak_scrypt": True, "chain.rpc_url": node.url}, env={}))
        plan = demo_plan()
        accounts = {p.org: Account.create() for p in plan}
        devices = {f"factory-{i}-m1": Account.create() for i in range(1, 5)}
        c = bootstrap(ctx, plan, accounts, threshold=2, devices=devices)
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
        chain_s, mem_s, matches, gas_commit, gas_vote, gas_open, rmse = [], [], [], [], [], [], []
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
            gas_commit += list(rep.gas_commit.values())
            gas_vote += list(rep.gas_vote.values())
            opened_ref = rep.ref("RoundOpened") if hasattr(rep, "ref") else None
            if opened_ref is not None:
                gas_open.append(int(fl.ctx.w3.eth.get_transaction_receipt(opened_ref.tx)["gasUsed"]))
            base = decode_weights(chain_bytes)
            rmse.append(round(experiment.evaluate_named(spec, base, setup.test_x, setup.test_y)["rmse"], 3))
        measured = slice(1, None) if rounds > 1 else slice(0, None)
        out.update({
            "round_overhead_ratio": round(sum(chain_s[measured]) / sum(mem_s[measured]), 3),
            "chain_round_seconds": [round(s, 3) for s in chain_s],
            "memory_round_seconds": [round(s, 3) for s in mem_s],
            "overhead_seconds_per_round": round(statistics.mean(a - b for a, b in zip(chain_s[measured], mem_s[measured])), 3),
            "memory_matches_chain": all(matches),
            "gas_per_trainer": int(round(statistics.mean(gas_commit))),
            "gas_per_aggregator": int(round(statistics.mean(gas_vote))),
            "gas_open_round": int(round(statistics.mean(gas_open))) if gas_open else None,
            "gas_commit_range": [min(gas_commit), max(gas_commit)],
            "gas_vote_range": [min(gas_vote), max(gas_vote)],
            "votes_per_round": len(gas_vote) / rounds,
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
    out: dict = {}
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
