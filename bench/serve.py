"""Benchmark: the prediction service (`fedpm serve`) on 2 cores. Prints one JSON object.

Real anvil, a consortium with `--machines` registered machines and device keys, a real RUL task (the demo's default
1D-CNN over 14 sensors, 50-cycle window) finalized on chain, every machine's cycles streamed through a real gateway
(in this process) and anchored. The service runs as its own process (`python -m fedpm.cli serve`), and this process
is its HTTP client, so the two do not share a GIL.

- single: sequential GET /machines/{id}/health (verified window + model call) and POST /predict (one raw window):
  latency p50/p99 and throughput; beside them the model call alone (`Predictor.predict`, one window) in this process.
- fleet: every machine gets one more cycle (anchored), then one GET /machines answers the whole fleet, most urgent
  first: the time of that request per cycle (the service reads and verifies the new batches, builds every window and
  predicts them in one batched call).
- swap: a new round is finalized; the time from the finalizing vote's receipt to the first /health that names the new
  round (the service polls every `--poll` s), and beside it the time to fetch and verify the model bytes alone.
Goals (issue 13): single p99 < 20 ms; fleet refresh < 2 s; swap < 2 s plus the download.

`--machines 50,200,1000` sweeps fleet sizes, each from scratch (its own anvil, gateway store and service), smallest
first; each size's figures also go to stderr as soon as they are measured. The machine's load average is recorded
beside each size: the figures are whole-process timings on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def timed(fn, n: int) -> dict:
    lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - start
    return {"n": n, "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2), "per_s": round(n / wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machines", default="50,200,1000", help="fleet sizes, comma-separated (each run from scratch)")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--cycles", type=int, default=3, help="fleet refresh cycles measured")
    ap.add_argument("--poll", type=float, default=0.5, help="the service's poll interval (serve.poll_interval_s)")
    ap.add_argument("--profile", action="store_true", help="also profile one fleet refresh in this process (top functions to stderr)")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sizes = sorted({int(n) for n in args.machines.split(",")})
    out: dict = {"cores": os.cpu_count(), "poll_s": args.poll, "requests": args.requests, "cycles": args.cycles, "sweep": []}
    for n in sizes:
        started, load = time.perf_counter(), os.getloadavg()[0]
        row = run(n, args)
        row = {"machines": n, "load_avg_1m": [round(load, 1), round(os.getloadavg()[0], 1)], **row, "run_s": round(time.perf_counter() - started)}
        out["sweep"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))
    return 0


def run(machines_n: int, args: argparse.Namespace) -> dict:
    import numpy as np
    import requests
    from eth_account import Account
    from eth_utils import keccak

    from chain.connect import connect
    from chain.node import LocalChain, free_port
    from fedpm.consortium.bootstrap import bootstrap, demo_plan
    from fedpm.consortium.client import Role
    from fedpm.models.registry import ModelRegistry
    from fedpm.prognostics.predictor import load_predictor
    from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
    from fedpm.sensors.device import Device
    from fedpm.sensors.gateway import Gateway, GatewayConfig
    from fedpm.sensors.simulate import cycle_payloads
    from fedpm.sensors.store import GatewayStore, gateway_store_path
    from fedpm.settings import load_settings
    from fl_node.coordinator import publish_task
    from fl_node.modelfile import encode_weights
    from fl_node.nodes import AggregatorNode
    from fl_node.rounds import FederatedLearning
    from fl_node.storage.local import LocalStore
    from tasks.model import build_model, get_weights
    from tasks.rul import cmapss
    from tasks.rul.experiment import make_spec

    out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="fedpm-bench-serve-"))
    home = tmp / "home"
    setup_started = time.perf_counter()
    with LocalChain() as node:
        settings = load_settings({"home": home, "chain.rpc_url": node.url, "keys.password": "bench", "keys.scrypt_n": 2**10, "keys.allow_weak_scrypt": True}, env={})
        ctx = connect(settings)
        key = lambda name: Account.from_key(keccak(text=f"fedpm-bench:{name}"))  # noqa: E731 - throwaway keys on a local anvil
        plan = demo_plan()
        c = bootstrap(ctx, plan, {p.org: key(p.org) for p in plan}, threshold=2)
        machines = [f"m-{i:04d}" for i in range(machines_n)]
        devices = {m: key("device-" + m) for m in machines}
        operator = c.sender("factory-1")
        maker = next(p.org for p in plan if Role.MANUFACTURER in p.roles)  # machines' device keys are provisioned by their maker
        for m in machines:
            c.registry.register_machine(operator, m, maker)
            c.registry.register_device(c.sender(maker), devices[m].address, m)
        t0 = int(ctx.w3.eth.get_block("latest")["timestamp"]) * 1000  # every key signs readings from its bind time on
        out["setup_register_s"] = round(time.perf_counter() - setup_started, 1)

        # the task: the demo's default model over 14 features (random initial weights: latency does not depend on them)
        features = ("s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21")
        norm = cmapss.Normalization(features, "minmax", tuple([0.0] * 14), tuple([1.0] * 14))
        spec = make_spec(norm)
        store = LocalStore(settings.store_dir)
        fl = FederatedLearning(ctx)
        trainers, aggs = ["factory-1", "factory-2", "factory-3"], ["agg-1", "agg-2", "agg-3"]
        task = publish_task(fl, c.sender("gov-a"), store, spec, get_weights(build_model(spec, seed=0)), trainers=[c.accounts[t].address for t in trainers],
                            aggregators=[c.accounts[a].address for a in aggs], rounds=3, min_participants=3)

        def finalize(seed: int) -> float:
            r = fl.open_round(c.sender("gov-a"), task)
            blob = encode_weights(get_weights(build_model(spec, seed=seed)), spec.to_json())
            cid = store.add(blob)
            for t in trainers:
                fl.commit(c.sender(t), task, r, keccak(blob), cid, 100, 0.5)
            for a in aggs:
                AggregatorNode(fl, c.sender(a), store, task, tmp / a, log=lambda _: None).step()
            return time.perf_counter()

        finalize(1)

        # every machine's history, streamed through a real gateway and anchored
        gw_path = gateway_store_path(home)
        registry = SensorBatchRegistry(ctx)
        gw = Gateway(GatewayConfig(store_path=gw_path, batch_size=10**7, max_age_s=3600), operator, registry, DeviceBindings(c.registry))
        gw.start()
        rng = np.random.default_rng(0)
        signers = {m: Device.of(m, devices[m], registry.signing_domain()) for m in machines}
        sent = 0

        def stream(first: int, count: int) -> float:
            """`count` cycles of every machine: each channel's readings of them one block signed by the machine's device."""
            nonlocal sent
            for m in machines:
                cycles = [list(cycle_payloads(100 + rng.normal(0, 1, 24), t0 + (cycle + 1) * 1000)) for cycle in range(first, first + count)]
                for i, (ch, _) in enumerate(cycles[0]):
                    _, signed = signers[m].sign(ch, "", [cy[i][1]["ts"] for cy in cycles], [cy[i][1]["value"] for cy in cycles])
                    gw.submit_block(signed)
                sent += count * len(cycles[0])
            gw.request_flush()
            started = time.perf_counter()
            st = GatewayStore(gw_path)
            while st.counts().get("readings_anchored", 0) < sent:
                time.sleep(0.05)
            st.close()
            return time.perf_counter() - started

        stream(0, 55)
        out["setup_total_s"] = round(time.perf_counter() - setup_started, 1)

        # the service, its own process
        port = free_port()
        env = {**os.environ, "FEDPM_HOME": str(home), "FEDPM_CHAIN_RPC_URL": node.url, "FEDPM_SERVE_TASK": str(task), "FEDPM_SERVE_PORT": str(port),
               "FEDPM_SERVE_DEFAULT_CLASS": "turbofan", "FEDPM_SERVE_POLL_INTERVAL_S": str(args.poll), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        log = open(tmp / "serve.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        s = requests.Session()
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if s.get(base + "/health", timeout=5).json()["status"] == "ok":
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the service did not come up: " + (tmp / "serve.log").read_text()[-2000:])
                time.sleep(0.2)
            first = time.perf_counter()
            fleet = s.get(base + "/machines", timeout=600).json()
            out["fleet_first_read_s"] = round(time.perf_counter() - first, 2)  # decodes and verifies every stored batch once
            assert sum(m["prediction"] for m in fleet["machines"]) == machines_n, fleet["machines"][:2]

            health = lambda: s.get(f"{base}/machines/{machines[7]}/health", timeout=30).raise_for_status()  # noqa: E731
            window = {"features": list(features), "windows": [rng.normal(100, 1, (50, 14)).round(3).tolist()]}
            predict = lambda: s.post(base + "/predict", json=window, timeout=30).raise_for_status()  # noqa: E731
            for _ in range(20):
                health(), predict()
            out["single"] = {"health": timed(health, args.requests), "predict": timed(predict, args.requests)}
            version = ModelRegistry(fl, store).version(task)
            predictor = load_predictor(version, store.cat(version.cid))
            predictor.warm_up()
            x = rng.normal(0, 1, (1, 50, 14)).astype(np.float32)
            out["single"]["model_call_in_process"] = timed(lambda: predictor.predict(x), args.requests)

            refresh, anchor = [], []
            for k in range(args.cycles):
                anchor.append(stream(55 + k, 1))
                t = time.perf_counter()
                rows = s.get(base + "/machines", timeout=600).json()["machines"]
                refresh.append(time.perf_counter() - t)
                assert sum(m["prediction"] for m in rows) == machines_n and all(m["window"]["to_ms"] == t0 + (56 + k) * 1000 for m in rows if m["prediction"])
            out["fleet"] = {"refresh_s": [round(v, 2) for v in refresh], "median_s": round(statistics.median(refresh), 2),
                            "anchor_new_cycle_s": [round(v, 2) for v in anchor], "readings_per_cycle": machines_n * 24}

            if args.profile:
                import cProfile
                import pstats

                from fedpm.service.server import open_service

                svc = open_service(load_settings({"home": home, "chain.rpc_url": node.url, "serve.task": task, "serve.default_class": "turbofan"}, env={}))
                svc.refresh()
                svc.fleet_health()
                stream(55 + args.cycles, 1)
                prof = cProfile.Profile()
                prof.enable()
                svc.fleet_health()
                prof.disable()
                pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)

            done = finalize(2)
            while s.get(base + "/health", timeout=30).json()["model"]["round"] != 2:
                time.sleep(0.01)
            swap = time.perf_counter() - done
            v2 = ModelRegistry(fl, store).version(task)
            t = time.perf_counter()
            ModelRegistry(fl, store).pull(v2)
            pull = time.perf_counter() - t
            out["swap"] = {"finalized_to_served_s": round(swap, 2), "pull_verified_s": round(pull, 3), "model_bytes": len(store.cat(v2.cid))}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            gw.stop()
    out["goals"] = {"single_p99_under_20ms": out["single"]["health"]["p99_ms"] < 20 and out["single"]["predict"]["p99_ms"] < 20,
                    "fleet_under_2s": out["fleet"]["median_s"] < 2, "swap_under_2s_plus_download": out["swap"]["finalized_to_served_s"] - out["swap"]["pull_verified_s"] < 2}
    return out


if __name__ == "__main__":
    sys.exit(main())
