"""Benchmark: MQTT in -> signed, mined anchors out, 1,000-reading batches. Prints one JSON object.

Real anvil, real mosquitto (temp config, free port), the gateway in this process (its own threads) and the
publisher in a SEPARATE process (spawned; it does not share the gateway's GIL), publishing QoS 1 block messages
`fedpm/<machine>/vibration` = {"ts": [...], "values": [...], "unit": "g"} of `--block` readings each, round-robin
over the machines. The clock starts when the publisher starts publishing and stops when the last reading's
batch anchor is MINED (a reading counts only once the store marks its batch anchored from a mined receipt).
`--soak-s` then offers a steady `--soak-rate` (paced publisher) for that long and reports this (gateway) process's
RSS growth over it, with RSS samples along the way. The publisher never has more than 2,000 messages awaiting
the broker's ack (an unpaced publisher only measures how much backlog mosquitto will hold).
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T_BASE = 1_700_000_000_000


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def publisher_main(port: int, machines: list[str], block: int, seq_file: Path, go, jobs, done) -> None:
    """Publisher process: for each (n, offset, rate) job, publish n readings as `block`-reading QoS 1 messages,
    as fast as possible (rate 0) or paced at `rate` readings/s. At most 2,000 messages await the broker's ack.
    Its sequence numbers are kept in `seq_file`, as `fedpm simulate` keeps them (one file write per message)."""
    from fedpm.sensors.simulate import Publisher

    pub = Publisher("127.0.0.1", port, client_id=f"bench-pub-{os.getpid()}", seq_file=seq_file)
    pub.wait_connected(10)
    go.set()
    while True:
        job = jobs.get()
        if job is None:
            break
        n, offset, rate = job
        start = time.monotonic()
        cpu0 = os.times()
        for k in range(n // block):
            m = machines[k % len(machines)]
            t0 = T_BASE + offset + (k // len(machines)) * block
            pub.publish(m, "vibration", {"ts": list(range(t0, t0 + block)), "values": [((t0 + i) % 977) / 1000 for i in range(block)], "unit": "g"})
            if rate and (ahead := (k + 1) * block / rate - (time.monotonic() - start)) > 0:
                time.sleep(ahead)
            while len(pub._pending) > 2000:  # flow control: never run unboundedly ahead of the broker
                time.sleep(0.001)
        cpu1 = os.times()
        cpu_us = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6 / max(1, n // block)  # per message, incl. its seq-file write
        done.put((pub.wait_published(600), cpu_us))
    pub.close()


class AnchoredCounter:
    """Readings of anchored batches, read incrementally (anchoring marks batches in id order)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.last_id = 0
        self.total = 0

    def __call__(self) -> int:
        rows = self.db.execute("SELECT id, count FROM batches WHERE status = 'anchored' AND id > ? ORDER BY id", (self.last_id,)).fetchall()
        for bid, count in rows:
            self.last_id = bid
            self.total += count
        return self.total


def seq_file_write_us(folder: Path, n: int = 2000) -> dict:
    """The publisher's per-message seq-file write (`SeqCounter.take`: atomic_write without fsync) beside the same
    write fsynced, interleaved in rounds of 100 so both see the same disk and load; microseconds per write."""
    from fedpm.sensors.simulate import SeqCounter
    from ground.files import atomic_write

    counter = SeqCounter(folder / "take.seq.json")
    took = synced = 0.0
    for r in range(n // 100):
        t0 = time.perf_counter()
        for i in range(100):
            counter.take(f"m{i % 2}")
        t1 = time.perf_counter()
        for i in range(100):
            atomic_write(folder / "synced.seq.json", json.dumps(counter.next), sync=True)
        t2 = time.perf_counter()
        took, synced = took + t1 - t0, synced + t2 - t1
    per = 1e6 / (n // 100 * 100)
    return {"take_us": round(took * per, 1), "fsynced_us": round(synced * per, 1), "fsynced_over_take": round(synced / took, 1), "writes": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--soak-s", type=float, default=5.0)
    ap.add_argument("--block", type=int, default=100, help="readings per MQTT message")
    ap.add_argument("--machines", type=int, default=2)
    ap.add_argument("--soak-rate", type=float, default=50_000, help="readings/s offered during the soak (0: the rate measured)")
    args = ap.parse_args()

    from chain.connect import connect
    from chain.node import LocalChain
    from eth_keys.backends import get_backend
    from fedpm.consortium.bootstrap import bootstrap, demo_plan
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.gateway import Gateway, GatewayConfig
    from fedpm.sensors.merkle import _k256
    from tests.conftest import dev_key, make_settings
    from fedpm.broker import LocalBroker

    tmp = Path(tempfile.mkdtemp(prefix="fedpm-bench-"))
    with LocalChain() as node:
        ctx = connect(make_settings(tmp / "home", node.url))
        plan = demo_plan()
        c = bootstrap(ctx, plan, {p.org: dev_key(p.org) for p in plan}, devices={f"factory-{i}-m1": dev_key(f"device-{i}") for i in range(1, args.machines + 1)})
        broker = LocalBroker(tmp / "broker").start()
        atexit.register(broker.stop)  # also on errors (stop is idempotent)
        machines = list(c.devices)
        cfg = GatewayConfig(store_path=tmp / "gw.sqlite", devices=dict(c.devices), batch_size=1000, max_age_s=1.0, mqtt_port=broker.port, client_id="bench-gw")
        gw = Gateway(cfg, c.sender("factory-1"), SensorBatchRegistry(ctx), ctx.w3.eth.chain_id)
        gw.start()
        gw.connect_mqtt()
        spawn = mp.get_context("spawn")
        go, jobs, done = spawn.Event(), spawn.Queue(), spawn.Queue()
        proc = spawn.Process(target=publisher_main, args=(broker.port, machines, args.block, tmp / "publisher.seq.json", go, jobs, done), daemon=True)
        proc.start()
        if not go.wait(60):
            raise SystemExit("publisher did not connect")
        if not gw.wait_subscribed(30):
            raise SystemExit("gateway did not subscribe")
        anchored = AnchoredCounter(cfg.store_path)
        samples: list[tuple[float, float]] = []

        def run(n: int, offset: int, rate: float = 0.0) -> float:
            start = time.perf_counter()
            jobs.put((n, offset, rate))
            target = anchored() + n
            every = max(2.0, args.soak_s / 20)
            next_sample = start + every
            while anchored() < target:
                time.sleep(0.02)
                if time.perf_counter() >= next_sample:
                    samples.append((round(time.perf_counter() - start), round(rss_mb(), 1)))
                    next_sample += every
                if gw.errors:
                    raise SystemExit(f"gateway errors: {gw.errors[:3]}")
            return time.perf_counter() - start

        step = args.block * len(machines)
        n_main = args.readings - args.readings % step
        cpu0 = os.times()
        elapsed = run(n_main, 0)
        cpu1 = os.times()
        cpu_us = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6 / n_main  # this process: the gateway's threads
        acked, publisher_cpu_us = done.get(timeout=60)
        assert acked, "publisher: not every message was acknowledged by the broker"
        store = sqlite3.connect(cfg.store_path)
        batches = store.execute("SELECT count, tx_hash FROM batches WHERE status = 'anchored'").fetchall()
        rcpts = {tx for _, tx in batches}
        gas = sum(ctx.w3.eth.get_transaction_receipt(h)["gasUsed"] for h in rcpts)
        from fedpm.sensors.store import GatewayStore
        from fedpm.sensors.verify import check_batch

        st = GatewayStore(cfg.store_path)
        registry = SensorBatchRegistry(c.ctx)
        verified = sum(check_batch(b, registry).ok for b in st.batches(status="anchored"))  # untimed: every batch vs chain
        st.close()
        rss0 = rss_mb()
        soak_offered = args.soak_rate or n_main / elapsed
        soak_n = int(args.soak_s * soak_offered)
        soak_n -= soak_n % step
        soak_rate = None
        if soak_n:
            samples.clear()
            soak_elapsed = run(soak_n, n_main, soak_offered)
            assert done.get(timeout=60)[0], "publisher: not every message was acknowledged by the broker"
            soak_rate = round(soak_n / soak_elapsed)
        rss1 = rss_mb()
        jobs.put(None)
        proc.join(30)
        gw.stop()
        broker.stop()
        seq_write = seq_file_write_us(tmp)
        load = os.getloadavg()
        print(json.dumps({
            "readings_per_s": round(n_main / elapsed),
            "gas_per_batch": round(gas / len(batches)),
            "gas_per_reading": round(gas / sum(n for n, _ in batches), 2), "gateway_cpu_us_per_reading": round(cpu_us, 2),
            "publisher_cpu_us_per_message": round(publisher_cpu_us, 1), "seq_file_write": seq_write,
            "rss_growth_mb": round(rss1 - rss0, 1), "rss_mb": round(rss1, 1),
            "readings": n_main, "batches": len(batches), "batches_verified": verified, "transactions": len(rcpts),
            "soak_s": args.soak_s, "soak_offered_per_s": round(soak_offered), "soak_readings_per_s": soak_rate, "rss_samples_s_mb": samples[-25:],
            "publisher": {"process": "separate (spawned)", "qos": 1, "readings_per_message": args.block, "machines": len(machines),
                          "topic": "fedpm/<machine>/vibration", "payload": "{ts:[...],values:[...],unit}"},
            "counted": "readings whose batch anchor is mined",
            "ecc_backend": type(get_backend()).__name__, "keccak": _k256.__module__,
            "loadavg": [round(x, 2) for x in load], "cpus": os.cpu_count(),
        }))


if __name__ == "__main__":
    main()
