"""fedpm side by side with Flower: the same Keras model, the same 4 factories' data, the same rounds and local
epochs, each framework with its parties as separate processes on loopback. Prints one JSON object.

(a) fedpm: a local anvil with the demo's consortium, 4 `fedpm node train` and 3 `fedpm node aggregate` processes
    (3 voting aggregators, quorum 2), a local content store; the coordinator opens each round and waits for it
    to finalize. Round time: from `openRound` to `RoundFinalized`, as the demo reports it.
(b) Flower 1.42: a SuperLink and 4 SuperNodes (`flower-superlink`, `flower-supernode`, their ServerApp and ClientApps
    in subprocesses), FedAvg over every node (bench/flower_app). Round time: between the ServerApp's consecutive
    end-of-round callbacks (`evaluate_fn`).
Both train with fedpm's own local update (`tasks.registry.trainer_for` over the factory's C-MAPSS file, the seed rule
of `fl_node.trainer`) from the same initial model, so only the orchestration differs; FedAvg is float64 in fedpm
and float32 in Flower, so the models drift apart by rounding only and the final RMSEs agree within noise.
Round 1 pays start-up (TensorFlow in every party, Flower's app install); the ratio is over rounds 2..N. Flower's
SuperNode (default isolation mode `subprocess`) starts a `flwr-clientapp` process for every message, so each of its rounds
pays a Python and TensorFlow start-up per client; fedpm's node processes live for the whole task.

Bytes per client and round: every trainer's (SuperNode's) TCP traffic to the chain node (SuperLink) passes a counting
relay; fedpm's trainers also move model bytes through the content store, counted from the objects they wrote
(their updates) and read (the round's base model), as a shared store would carry them.

Flower is a benchmark dependency only: `make bench-flower` installs bench/vs_flower.requirements.txt into
.venv/flower (which sees this project's venv for TensorFlow and fedpm) and runs this file with it.
Usage: python bench/vs_flower.py [--rounds 5] [--epochs 2] [--data PATH] [--flower-bin .venv/flower/bin]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAINERS = [f"factory-{i}" for i in range(1, 5)]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]
RATIO_TARGET = 1.10
# Both train with the same local update from the same model; they differ by FedAvg's float rounding and TensorFlow's
# threaded reductions only. The federated RMSE's seed-to-seed spread in bench/fl_accuracy.py is ~0.5-1.4.
RMSE_TOLERANCE = 0.25


@dataclass
class ByteRelay:
    """A TCP relay on a free loopback port to `target` that counts the bytes each way (client -> server is `sent`)."""

    target: tuple[str, int]
    sent: int = 0
    received: int = 0
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "ByteRelay":
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, "sent"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "received"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counter: str) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                with self._lock:
                    setattr(self, counter, getattr(self, counter) + len(chunk))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()


def _popen(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 15)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 9)


def _per_client(relays: list[ByteRelay], rounds: int, extra_sent: list[int] | None = None, extra_received: list[int] | None = None) -> dict:
    sent = [r.sent + (extra_sent[i] if extra_sent else 0) for i, r in enumerate(relays)]
    received = [r.received + (extra_received[i] if extra_received else 0) for i, r in enumerate(relays)]
    return {"sent_per_round": [round(s / rounds) for s in sent], "received_per_round": [round(r / rounds) for r in received],
            "mean_sent_per_round": round(statistics.mean(sent) / rounds), "mean_received_per_round": round(statistics.mean(received) / rounds)}


def run_fedpm(setup, files: list[Path], out: Path, rounds: int, epochs: int) -> dict:
    from chain.node import LocalChain
    from fedpm.demo import Progress, build_consortium, demo_settings, node_env
    from fl_node.coordinator import processes_alive, publish_task, wait_round
    from fl_node.modelfile import decode_weights
    from fl_node.rounds import FederatedLearning, RoundState
    from fl_node.storage import open_store
    from tasks.model import build_model, get_weights
    from tasks.rul import experiment

    spec = setup.spec
    with LocalChain(log_file=out / "anvil.log") as chain:
        settings = demo_settings(out, chain.url)
        with contextlib.redirect_stdout(sys.stderr):  # the demo's progress lines; stdout carries the JSON
            c = build_consortium(settings, Progress(total=1))
        store, fl = open_store(settings), FederatedLearning(c.ctx)
        task_id = publish_task(fl, c.sender("gov-a"), store, spec, get_weights(build_model(spec, seed=0)), rounds=rounds, min_participants=4,
                               trainers=[c.accounts[t].address for t in TRAINERS], aggregators=[c.accounts[a].address for a in AGGREGATORS])
        host, port = chain.url.removeprefix("http://").rsplit(":", 1)
        relays = [ByteRelay((host, int(port))).start() for _ in TRAINERS]
        env = node_env(settings)
        procs: dict[str, subprocess.Popen] = {}
        for i, (org, relay) in enumerate(zip(TRAINERS, relays)):
            cmd = [sys.executable, "-m", "fedpm.cli", "node", "train", "--as", org, "--task", str(task_id), "--data", str(files[i]), "--seed", str(i)]
            procs[org] = _popen(cmd, out / f"{org}.log", {**env, "FEDPM_CHAIN_RPC_URL": f"http://{relay.address}"})
        for org in AGGREGATORS:
            procs[org] = _popen([sys.executable, "-m", "fedpm.cli", "node", "aggregate", "--as", org, "--task", str(task_id)], out / f"{org}.log", env)
        seconds, views = [], []
        try:
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = fl.open_round(c.sender("gov-a"), task_id)
                view = wait_round(fl, task_id, r, timeout=1800, poll=0.05, check=processes_alive(procs))
                seconds.append(time.perf_counter() - t0)
                if view.state != RoundState.FINALIZED:
                    raise RuntimeError(f"fedpm round {r} ended {view.state.name}; see {out}")
                views.append(view)
        finally:
            _stop(list(procs.values()))
            for relay in relays:
                relay.close()
        model = store.cat(views[-1].result_cid)
        # model bytes through the content store: each trainer wrote its update and read the round's base model
        base = [len(store.cat(v.base_model_cid)) for v in views]
        wrote = [0] * len(TRAINERS)
        for r in range(1, rounds + 1):
            ups = fl.updates(task_id, r)
            for i, org in enumerate(TRAINERS):
                wrote[i] += len(store.cat(ups[c.accounts[org].address].cid))
        return {"round_seconds": [round(s, 2) for s in seconds], "rmse": round(experiment.evaluate_named(spec, decode_weights(model), setup.test_x, setup.test_y)["rmse"], 3),
                "client_bytes": _per_client(relays, rounds, wrote, [sum(base)] * len(TRAINERS)),
                "rpc_bytes": _per_client(relays, rounds), "model_bytes": len(model), "aggregators": len(AGGREGATORS), "quorum": fl.task(task_id).quorum}


def run_flower(setup, files: list[Path], out: Path, rounds: int, epochs: int, flower_bin: Path) -> dict:
    import numpy as np

    from chain.node import free_port
    from tasks.rul import experiment

    spec_file = out / "spec.json"
    spec_file.write_bytes(setup.spec.canonical_bytes())
    app = out / "app"
    shutil.copytree(ROOT / "bench" / "flower_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PATH": f"{flower_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    link_port = free_port()
    homes = [out / f"flwr-{name}" for name in ("superlink", "cli", *TRAINERS)]
    for h in homes:
        h.mkdir()
    (out / "flwr-cli" / "config.toml").write_text(f'[superlink]\ndefault = "bench"\n\n[superlink.bench]\naddress = "127.0.0.1:{link_port}"\ninsecure = true\n')
    procs = [_popen([str(flower_bin / "flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(link_port),
                     "--disable-runtime-dependency-installation"], out / "superlink.log", {**env, "FLWR_HOME": str(homes[0])})]
    relays = [ByteRelay(("127.0.0.1", link_port)).start() for _ in TRAINERS]
    try:
        _wait_port(link_port, 60, procs)
        for i, (org, relay) in enumerate(zip(TRAINERS, relays)):
            node_config = f"partition-id={i} data='{files[i]}'"
            procs.append(_popen([str(flower_bin / "flower-supernode"), "--insecure", "--superlink", relay.address, "--port", str(free_port()),
                                 "--node-config", node_config], out / f"supernode-{org}.log", {**env, "FLWR_HOME": str(homes[2 + i])}))
        run_config = f"spec='{spec_file}' out='{out}' rounds={rounds} epochs={epochs} nodes={len(TRAINERS)}"
        subprocess.run([str(flower_bin / "flwr"), "run", str(app), "bench", "--run-config", run_config], env={**env, "FLWR_HOME": str(out / "flwr-cli")},
                       check=True, stdout=open(out / "flwr-run.log", "wb"), stderr=subprocess.STDOUT, timeout=300)
        marks = out / "rounds.jsonl"
        deadline = time.monotonic() + 600 + 600 * rounds
        while not (out / "final.npz").exists() or len(marks.read_text().splitlines()) < rounds + 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"the Flower run did not finish; see the logs in {out}")
            time.sleep(0.2)
        time.sleep(0.5)  # let the final npz be written completely
        stamps = [json.loads(line)["t"] for line in marks.read_text().splitlines()]
        with np.load(out / "final.npz") as final:
            named = [(name, final[name]) for name in final.files]
    finally:
        _stop(procs)
        for relay in relays:
            relay.close()
    return {"round_seconds": [round(b - a, 2) for a, b in zip(stamps, stamps[1:])],
            "rmse": round(experiment.evaluate_named(setup.spec, named, setup.test_x, setup.test_y)["rmse"], 3),
            "client_bytes": _per_client(relays, rounds), "aggregators": 1}


def _wait_port(port: int, timeout: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("the SuperLink exited at start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s")


def main() -> None:
    from fedpm.demo import write_factory_files
    from fedpm.settings import load_settings
    from tasks.rul import cmapss, experiment

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2, help="local epochs per round (the demo's 2)")
    ap.add_argument("--data", type=Path, default=None, help="C-MAPSS FD001 training file (default: setting fl.data)")
    ap.add_argument("--flower-bin", type=Path, default=ROOT / ".venv" / "flower" / "bin", help="where flower-superlink, flower-supernode and flwr are")
    ap.add_argument("--keep", type=Path, default=None, help="keep the logs of both runs in this folder")
    a = ap.parse_args()
    if not (a.flower_bin / "flwr").exists():
        sys.exit(f"error: no Flower at {a.flower_bin} (make bench-flower installs bench/vs_flower.requirements.txt into .venv/flower)")
    engines = cmapss.load_file(a.data or load_settings().fl.data_file)
    setup = experiment.prepare(engines, n_factories=len(TRAINERS), split="iid", seed=0, train={"epochs": a.epochs})
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="fedpm-vs-flower-") as tmp:
        work = a.keep or Path(tmp)
        files = write_factory_files(engines, setup.factories, work / "data")
        (work / "fedpm").mkdir(parents=True, exist_ok=True)
        (work / "flower").mkdir(parents=True, exist_ok=True)
        fedpm = run_fedpm(setup, files, work / "fedpm", a.rounds, a.epochs)
        flower = run_flower(setup, files, work / "flower", a.rounds, a.epochs, a.flower_bin)
    steady = slice(1, None) if a.rounds > 1 else slice(0, None)
    ratio = sum(fedpm["round_seconds"][steady]) / sum(flower["round_seconds"][steady])
    out = {"bench": "vs_flower", "rounds": a.rounds, "local_epochs": a.epochs, "trainers": len(TRAINERS), "fedpm": fedpm, "flower": flower,
           "round_time_ratio": round(ratio, 3), "round_time_ratio_all_rounds": round(sum(fedpm["round_seconds"]) / sum(flower["round_seconds"]), 3),
           "ratio_target": RATIO_TARGET, "ratio_target_met": ratio <= RATIO_TARGET, "rmse_difference": round(fedpm["rmse"] - flower["rmse"], 3),
           "rmse_tolerance": RMSE_TOLERANCE, "rmse_agree": abs(fedpm["rmse"] - flower["rmse"]) <= RMSE_TOLERANCE,
           "flower_version": subprocess.run([str(a.flower_bin / "flwr"), "--version"], capture_output=True, text=True).stdout.strip(),
           "seconds": round(time.time() - t0, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
