"""`make demo`: the whole fedpm story on embedded defaults (local anvil, local content store).

1. A consortium: 3 governors (2-of-3), 4 factories, a machine maker, 3 aggregators; a machine per factory whose
   device key the maker provisions and attests (an operator binding its own key is refused).
2. Sensor data signed at the source by each machine's device and anchored by a keyless gateway (needs Mosquitto),
   maintenance history with an audit, quality passports of parts made on the simulated machine (one verified),
   and a pay-per-use lease.
3. Federated learning on NASA C-MAPSS FD001: 4 factory nodes and 3 aggregator nodes, each its own process,
   several rounds; a table per round, then global model vs each factory alone vs all data centrally.
4. Predictive maintenance in service: `fedpm serve`'s service on the final global model; a held-out engine replayed
   as a live machine through the gateway degrades, the alert fires, a maintenance record answering it is hashed on
   chain and audited, and the engine's verified history becomes labeled training data.
Outputs in out/demo/: summary.json, global_model.safetensors, training_curve.png, fleet_health.png, part-passport.json,
node logs, and
the chain state (anvil-state.json) so the explorer can be opened on it later.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chain.connect import connect
from chain.keystore import Keystore
from chain.node import LocalChain
from fedpm.broker import LocalBroker, mosquitto_path
from fedpm.consortium.bootstrap import Consortium, bootstrap, demo_plan
from fedpm.consortium.client import format_members
from fedpm.consortium.demo import format_device_demo, run_device_demo
from fedpm.explorer.server import start_explorer
from fedpm.hints import REVERT_FORMATS, REVERT_HINTS
from fedpm.lease.demo import format_lease_demo, lease_demo_json, run_lease_demo
from fedpm.maintenance.audit import format_audit_table
from fedpm.maintenance.client import MaintenanceLog, audit_machine
from fedpm.maintenance.demo import record_demo_history
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.parts.demo import record_demo_parts
from fedpm.sensors.demo import format_sensor_demo, run_sensor_demo
from fedpm.sensors.store import gateway_store_path
from fedpm.settings import Settings, load_settings
from tasks.rul import cmapss
from tasks.rul import experiment
from fl_node.coordinator import processes_alive, publish_task, round_report, wait_round
from tasks.rul.experiment import evaluate_named
from tasks.rul.spec import RulSpec
from tasks.model import build_model, get_weights
from fl_node.modelfile import decode_weights
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage import open_store
from ground.errors import FedpmError


@dataclass
class Progress:
    """Numbered steps with elapsed time: long work shows where it is."""

    total: int
    started: float = field(default_factory=time.monotonic)
    n: int = 0

    def step(self, title: str) -> None:
        self.n += 1
        print(f"\n[{self.n}/{self.total}] {title}  (+{time.monotonic() - self.started:.0f}s)", flush=True)

    def info(self, line: str) -> None:
        print(f"    {line}", flush=True)


def demo_settings(out: Path, url: str) -> Settings:
    home = out / "home"
    password_file = home / "password"
    home.mkdir(parents=True, exist_ok=True)
    # DEMO ONLY: the keystore password sits in plain text beside the keystores (owner-only, mode 0600) so the node
    # processes can start unattended. A real deployment keeps it out of the home folder (FEDPM_KEYS_PASSWORD_FILE
    # on a secrets mount, mode 0600; fedpm refuses one other users can read) and keeps scrypt_n at 2**18.
    if not password_file.exists():  # a fresh random keystore password for this demo
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    # scrypt_n is lowered so 15 keystores decrypt in seconds across 8 processes; real deployments keep 2**18.
    return load_settings({"home": home, "chain.rpc_url": url, "keys.password_file": password_file, "keys.scrypt_n": 2**12,
                          "keys.allow_weak_scrypt": True})


def node_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "FEDPM_HOME": str(settings.home), "FEDPM_CHAIN_RPC_URL": settings.chain.rpc_url or "",
            "FEDPM_KEYS_PASSWORD_FILE": str(settings.keys.password_file), "FEDPM_KEYS_SCRYPT_N": str(settings.keys.scrypt_n), "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def build_consortium(settings: Settings, p: Progress) -> Consortium:
    ctx = connect(settings, hints=REVERT_HINTS, formats=REVERT_FORMATS)
    ks = Keystore(settings.keystore_dir, settings.keys)
    plan = demo_plan()
    for org in [o.org for o in plan] + [f"device-factory-{i}-m1" for i in range(1, 5)]:
        ks.create(org)
    accounts = {o.org: ks.load(o.org) for o in plan}
    devices = {f"factory-{i}-m1": ks.load(f"device-factory-{i}-m1") for i in range(1, 5)}
    c = bootstrap(ctx, plan, accounts, threshold=2, devices=devices)
    for name, info in c.deployment.contracts.items():
        p.info(f"{name:<22} {info['address']}")
    print("    " + format_members(c.registry.members()).replace("\n", "\n    "))
    return c


def run_devices(c: Consortium, p: Progress) -> dict[str, Any]:
    summary = run_device_demo(c)
    p.info("device keys, provisioned by their machines' manufacturer:")
    print("    " + format_device_demo(summary).replace("\n", "\n    "))
    return summary


# ---------------------------------------------------------------- federated learning


@dataclass
class FlResult:
    rounds: list[dict[str, Any]]
    fed: dict[str, float]
    central: dict[str, float]
    local: list[dict[str, float]]
    model_bytes: bytes
    gas_per_trainer: float
    gas_per_aggregator: float
    task_id: int = 0
    engines: Any = None  # the C-MAPSS engines, for the service's replayed machine
    test_units: list[int] = field(default_factory=list)  # held out from every factory


def write_factory_files(engines, factories: list[list[int]], folder: Path) -> list[Path]:
    """Each factory's own rows in NASA's layout: the only data its node process ever reads."""
    folder.mkdir(parents=True, exist_ok=True)
    return [cmapss.write_file(engines.subset(units), folder / f"factory-{i}.txt") for i, units in enumerate(factories, 1)]


def run_federated(c: Consortium, settings: Settings, data: Path, out: Path, rounds: int, epochs: int, p: Progress, byzantine: bool) -> FlResult:
    engines = cmapss.load_file(data)
    setup = experiment.prepare(engines, n_factories=4, split="iid", seed=0, train={"epochs": epochs})
    files = write_factory_files(engines, setup.factories, out / "data")
    test_file, rul_file = experiment.write_holdout_files(engines, setup, out / "data", seed=0)
    p.info(f"engines per factory: {[len(f) for f in setup.factories]}; {len(setup.test_units)} held-out engines, {len(setup.test_y)} truncated test cases"
           f" (one cut each in {test_file.name} / {rul_file.name} for `fedpm evaluate`)")
    spec = setup.spec
    store = open_store(settings)
    fl = FederatedLearning(c.ctx)
    trainers = [f"factory-{i}" for i in range(1, 5)]
    aggregators = ["agg-1", "agg-2", "agg-3"]
    task_id = publish_task(fl, c.sender("gov-a"), store, spec, get_weights(build_model(spec, seed=0)), rounds=rounds, min_participants=3,
                           trainers=[c.accounts[t].address for t in trainers], aggregators=[c.accounts[a].address for a in aggregators])
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    env = node_env(settings)
    procs: dict[str, subprocess.Popen] = {}
    for i, org in enumerate(trainers):
        cmd = [sys.executable, "-m", "fedpm.cli", "node", "train", "--as", org, "--task", str(task_id), "--data", str(files[i]), "--seed", str(i)]
        procs[org] = subprocess.Popen(cmd, env=env, stdout=open(logs / f"{org}.log", "wb"), stderr=subprocess.STDOUT)
    for org in aggregators:
        # The liar polls 10x faster than the honest nodes: it sees every round aggregating and votes (usually before
        # their quorum, then it is recorded as outvoted; on a busy machine it may still be too late, and says so).
        extra = ["--byzantine", "--poll", "0.1"] if byzantine and org == "agg-3" else ["--poll", "1"]
        cmd = [sys.executable, "-m", "fedpm.cli", "node", "aggregate", "--as", org, "--task", str(task_id), *extra]
        procs[org] = subprocess.Popen(cmd, env=env, stdout=open(logs / f"{org}.log", "wb"), stderr=subprocess.STDOUT)
    p.info(f"task {task_id}: started 4 trainer and 3 aggregator processes (logs in {logs})" + (" — agg-3 lies on purpose" if byzantine else ""))
    names = {c.accounts[o].address: o for o in trainers + aggregators}
    table: list[dict[str, Any]] = []
    try:
        for _ in range(rounds):
            r = fl.open_round(c.sender("gov-a"), task_id)
            t0 = time.monotonic()
            view = wait_round(fl, task_id, r, timeout=900, poll=settings.chain.poll_interval_s, check=processes_alive(procs), on_change=lambda v: print(f"    round {v.round}: {v.state.name.lower():<11} commits={v.commits} votes={v.votes}", flush=True))
            if view.state != RoundState.FINALIZED:
                raise FedpmError(f"round {r} failed", hint=f"see the node logs in {logs}")
            rep = round_report(fl, task_id, r)
            model = store.cat(view.result_cid)
            metrics = evaluate_bytes(spec, model, setup.test_x, setup.test_y)
            row = {"round": r, "participants": [names[t] for t in rep.participants], "model_hash": rep.model_hash, "cid": rep.model_cid,
                   "votes": {names[a]: h for a, h in rep.votes.items()}, "dissenters": [names[a] for a in rep.dissenters],
                   "excluded": [names[t] for t in rep.excluded], "rmse": round(metrics["rmse"], 3), "score": round(metrics["score"], 1),
                   "seconds": round(time.monotonic() - t0, 1), "gas_commit": rep.gas_commit, "gas_vote": rep.gas_vote}
            table.append(row)
            print(format_round(row), flush=True)
        for proc in procs.values():
            proc.wait(timeout=120)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
    p.info("baselines: each factory alone and all data centrally, same epochs as the federation")
    x_all = np.concatenate([x for x, _ in setup.factory_data])
    y_all = np.concatenate([y for _, y in setup.factory_data])
    central = experiment.evaluate_named(spec, experiment.solo_train(spec, x_all, y_all, rounds * epochs), setup.test_x, setup.test_y)
    local = [experiment.evaluate_named(spec, experiment.solo_train(spec, x, y, rounds * epochs), setup.test_x, setup.test_y) for x, y in setup.factory_data]
    commits = [g for row in table for g in row["gas_commit"].values()]
    votes = [g for row in table for g in row["gas_vote"].values()]
    return FlResult(table, {"rmse": table[-1]["rmse"], "score": table[-1]["score"]}, central, local, model, float(np.mean(commits)), float(np.mean(votes)),
                    task_id, engines, list(setup.test_units))


def evaluate_bytes(spec: RulSpec, model: bytes, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return evaluate_named(spec, decode_weights(model), x, y)


def format_round(row: dict[str, Any]) -> str:
    votes = " ".join(f"{a}={'✓' if h == row['model_hash'] else '✗'}" for a, h in sorted(row["votes"].items()))
    extra = f"  dissent: {','.join(row['dissenters'])}" if row["dissenters"] else ""
    extra += f"  excluded: {','.join(row['excluded'])}" if row["excluded"] else ""
    return (f"    ┌ round {row['round']}  participants {len(row['participants'])}  aggregate {row['model_hash'][:18]}…  votes {votes}{extra}\n"
            f"    └ validation RMSE {row['rmse']:.2f}  PHM08 score {row['score']:.0f}  ({row['seconds']:.0f}s)")


def format_comparison(res: FlResult) -> str:
    rows = [("federated (global model)", res.fed), ("centralized (all data)", res.central)]
    rows += [(f"factory-{i} alone", m) for i, m in enumerate(res.local, 1)]
    lines = [f"    {'model':<26} {'RMSE':>7} {'PHM08':>9}"]
    lines += [f"    {name:<26} {m['rmse']:>7.2f} {m['score']:>9.0f}" for name, m in rows]
    return "\n".join(lines)


def plot_curve(res: FlResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    rounds = [r["round"] for r in res.rounds]
    ax.plot(rounds, [r["rmse"] for r in res.rounds], marker="o", label="federated global model")
    ax.axhline(res.central["rmse"], color="tab:green", linestyle="--", label="centralized (all data)")
    ax.axhline(min(m["rmse"] for m in res.local), color="tab:red", linestyle=":", label="best factory alone")
    ax.set_xlabel("round")
    ax.set_ylabel("RMSE on held-out engines (cycles)")
    ax.set_title("fedpm: remaining-useful-life model on C-MAPSS FD001")
    ax.set_xticks(rounds)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- sensors, maintenance, lease, explorer


def run_sensors(c: Consortium, settings: Settings, out: Path, p: Progress) -> dict[str, Any]:
    if mosquitto_path() is None:
        p.info("skipped: mosquitto is not installed (apt-get install mosquitto, or run `make demo` as root)")
        return {"skipped": "mosquitto not installed"}
    states = dict(zip(sorted(c.devices), ["healthy", "degraded", "critical", "failure"]))
    with LocalBroker(out / "mosquitto") as broker:
        summary = run_sensor_demo(c, gateway_store_path(settings.home), broker.host, broker.port, machines=states, seconds=1.0)
    print("    " + format_sensor_demo(summary).replace("\n", "\n    "))
    return summary


def run_maintenance(c: Consortium, settings: Settings, p: Progress) -> dict[str, Any]:
    machines = sorted(c.devices)
    summary = record_demo_history(c, settings.home, machines)
    p.info(f"{sum(len(m['entries']) for m in summary['machines'].values())} records on {len(machines)} machines (one correction each)")
    with RecordStore(record_store_path(settings.home)) as store:
        report = audit_machine(MaintenanceLog(c.ctx), store, machines[0])
    print("    " + format_audit_table(report).replace("\n", "\n    "))
    summary["audit_ok"] = report.ok
    return summary


def run_parts(c: Consortium, settings: Settings, out: Path, sensors: dict[str, Any], p: Progress) -> dict[str, Any]:
    if "skipped" in sensors:
        p.info("skipped: no sensor data to record parts from")
        return {"skipped": "no sensor data"}
    summary = record_demo_parts(c, settings, sorted(c.devices)[0])
    (out / "part-passport.json").write_text(json.dumps(summary.pop("passport"), indent=1, sort_keys=True))
    p.info(f"{len(summary['parts'])} parts of {summary['machine']} recorded; the passport of {summary['parts'][0]['part']} ({out / 'part-passport.json'}):")
    print("    " + summary.pop("report").replace("\n", "\n    "))
    return summary


def run_lease(c: Consortium, settings: Settings, p: Progress) -> dict[str, Any]:
    summary = run_lease_demo(c, settings)
    print("    " + format_lease_demo(summary).replace("\n", "\n    "))
    return lease_demo_json(summary)


def run_service(c: Consortium, settings: Settings, res: FlResult, out: Path, p: Progress) -> dict[str, Any]:
    from fedpm.service.demo import run_service_demo

    lives = res.engines.subset(res.test_units).lives()
    unit = sorted(lives, key=lambda u: (lives[u], u))[len(lives) // 2]  # a held-out engine of median life
    return run_service_demo(c, settings, res.task_id, res.engines, unit, out, info=p.info)


def show_explorer(settings: Settings, out: Path, linger: float | None) -> None:
    url, stop = start_explorer(settings)
    print(f"\n    explorer: {url}")
    try:
        if linger is None and sys.stdin.isatty():
            input("    press Enter to stop the explorer and the chain… ")
        elif linger:
            time.sleep(linger)
    finally:
        stop()
    home = settings.home
    print(f"    to explore later: fedpm --home {home} chain up --state {out / 'anvil-state.json'} &  then  fedpm --home {home} explorer")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fedpm.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/demo"))
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data, FEDPM_FL_DATA, else ../shared/data/cmapss/train_FD001.txt)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2, help="local epochs per round")
    ap.add_argument("--honest", action="store_true", help="no lying aggregator (by default agg-3 lies and is outvoted)")
    ap.add_argument("--linger", type=float, default=None, help="seconds to keep the explorer up at the end (default: until Enter on a terminal, 0 otherwise)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: its C++ start-up chatter is noise here
    try:
        data = args.data or load_settings().fl.data_file
    except FedpmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not data.is_file():
        print(f"error: C-MAPSS data not found at {data} (pass --data PATH to train_FD001.txt)", file=sys.stderr)
        return 1
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    p = Progress(total=8)
    try:
        with LocalChain(state_file=out / "anvil-state.json", log_file=out / "anvil.log") as chain:
            settings = demo_settings(out, chain.url)
            p.step(f"consortium on a local chain at {chain.url}")
            c = build_consortium(settings, p)
            devices = run_devices(c, p)
            p.step("sensor data signed at the source: devices sign blocks -> MQTT -> gateway checks -> one anchored root of roots")
            sensors = run_sensors(c, settings, out, p)
            p.step("maintenance history: records kept locally, their hashes chained on chain, then audited")
            maintenance = run_maintenance(c, settings, p)
            p.step("quality passports: parts recorded from the signed sensor data and the maintenance state, one passport verified")
            parts = run_parts(c, settings, out, sensors, p)
            p.step("pay-per-use lease: offer, deposit, device-signed usage, withdrawal, close, invoice")
            lease = run_lease(c, settings, p)
            p.step("federated learning: 4 factory nodes, 3 aggregator nodes, each its own process")
            res = run_federated(c, settings, data, out, args.rounds, args.epochs, p, byzantine=not args.honest)
            p.step("result: global model vs each factory alone vs all data centrally")
            print(format_comparison(res))
            (out / "global_model.safetensors").write_bytes(res.model_bytes)
            plot_curve(res, out / "training_curve.png")
            p.step("predictive maintenance in service: the final global model predicts a replayed engine's remaining life from verified data")
            service = run_service(c, settings, res, out, p)
            summary = {"chain_id": c.deployment.chain_id, "contracts": {k: v["address"] for k, v in c.deployment.contracts.items()},
                       "rounds": res.rounds, "federated": res.fed, "centralized": res.central, "local": res.local,
                       "gas": {"per_trainer_commit": res.gas_per_trainer, "per_aggregator_vote": res.gas_per_aggregator},
                       "devices": devices, "sensors": sensors, "maintenance": maintenance, "parts": parts, "lease": lease, "service": service}
            (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
            p.step("outputs and explorer")
            for name in ("summary.json", "global_model.safetensors", "training_curve.png", "fleet_health.png", "logs/"):
                p.info(str(out / name))
            show_explorer(settings, out, args.linger)
    except FedpmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
