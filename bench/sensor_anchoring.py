"""Benchmark: readings signed at the source -> MQTT -> a gateway that checks every block's signature and anchors one
root of roots per interval -> mined anchors, 1,000-reading device batches. Prints one JSON object.

Real anvil, real mosquitto (temp config, free port), the gateway in this process (its own threads) and the devices in
a SEPARATE process (spawned; it does not share the gateway's GIL): each machine's device key signs every block of
`--block` readings (EIP-712 over the canonical block, libsecp256k1) and publishes it QoS 1 on
`fedpm/<machine>/vibration`, round-robin over the machines. The clock starts when the devices start publishing and
stops when the last reading's anchor is MINED (a reading counts only once the store marks its batch anchored from a
mined receipt). `--soak-s` then offers a steady `--soak-rate` (paced devices) for that long and reports this
(gateway) process's RSS growth over it. The devices never have more than 2,000 blocks awaiting the broker's ack.

Also measured in this run, side by side: the device's signing cost and the gateway's verification cost per reading
(one block of `--block` readings at a time, single-threaded); the gateway alone (`gateway_only`: the same blocks handed
to it directly, as from a block file, checked, batched and anchored on the same chain) and the broker alone
(`broker_only`: the same message size and QoS, a subscriber that acknowledges at once), which bound the end-to-end
figure from either side; the gas of one anchor over 1k, 10k and 100k readings (1, 10 and 100 batches of 1,000); and
what a plant of 1,000 machines x 3 channels x 1 kHz would put on the chain.
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

T_BASE = 2_000_000_000_000
PLANT_READINGS_PER_S = 1000 * 3 * 1000  # 1,000 machines x 3 channels x 1 kHz


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def publisher_main(port: int, machines: dict[str, str], dom: tuple, block: int, seq_dir: Path, go, jobs, done) -> None:
    """Devices process: for each (n, offset, rate) job, sign and publish n readings as `block`-reading QoS 1 blocks,
    as fast as possible (rate 0) or paced at `rate` readings/s. At most 2,000 blocks await the broker's ack.
    `machines`: machine -> its device key's name (tests.conftest.dev_key). Each device keeps its seq in a file under
    `seq_dir`, as `fedpm device run` and `fedpm simulate` keep it (one file write per block)."""
    from chain.eip712 import Domain
    from fedpm.sensors.device import Device
    from fedpm.sensors.simulate import Publisher
    from tests.conftest import dev_key

    devices = {m: Device.of(m, dev_key(key), Domain(*dom), seq_dir / f"{key}.seq.json") for m, key in machines.items()}
    pub = Publisher("127.0.0.1", port, client_id=f"bench-pub-{os.getpid()}", devices=devices)
    pub.wait_connected(10)
    names = list(machines)
    go.set()
    while True:
        job = jobs.get()
        if job is None:
            break
        n, offset, rate = job
        start = time.monotonic()
        cpu0 = os.times()
        for k in range(n // block):
            m = names[k % len(names)]
            t0 = T_BASE + offset + (k // len(names)) * block
            pub.publish(m, "vibration", {"ts": list(range(t0, t0 + block)), "values": [((t0 + i) % 977) / 1000 for i in range(block)], "unit": "g"})
            if rate and (ahead := (k + 1) * block / rate - (time.monotonic() - start)) > 0:
                time.sleep(ahead)
            while len(pub._pending) > 2000:  # flow control: never run unboundedly ahead of the broker
                time.sleep(0.001)
        cpu1 = os.times()
        cpu_us = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6 / max(1, n // block)  # per block: encoding, signing, its seq-file write, publishing
        done.put((pub.wait_published(600), cpu_us))
    pub.close()


class AnchoredCounter:
    """Readings of anchored batches, read incrementally (anchors cover closed batches in id order)."""

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


def crypto_costs(block: int, dom, n_blocks: int = 2000) -> dict:
    """Per reading: the device's encode+sign of a block, the gateway's parse+verify (`admit`) of it."""
    from eth_account import Account

    from fedpm.sensors.device import Device
    from fedpm.sensors.ingest import admit

    device = Device.of("bench-m1", Account.from_key(b"\x42" * 32), dom)
    values = [((T_BASE + i) % 977) / 1000 for i in range(block)]
    t = time.perf_counter()
    signed = [device.sign("vibration", "g", list(range(T_BASE + k * block, T_BASE + (k + 1) * block)), values)[1] for k in range(n_blocks)]
    t_sign = time.perf_counter() - t
    t = time.perf_counter()
    for s in signed:
        admit(s, dom)
    t_verify = time.perf_counter() - t
    readings = n_blocks * block
    return {"device_sign_us_per_reading": round(t_sign * 1e6 / readings, 3), "gateway_verify_us_per_reading": round(t_verify * 1e6 / readings, 3),
            "readings_per_block": block, "blocks_timed": n_blocks}


def gateway_only(c, registry, bindings, dom, keys: dict[str, str], block: int, tmp: Path, n: int = 100_000) -> dict:
    """The gateway without MQTT: n readings of pre-signed blocks handed to it directly (a block file's path), checked,
    batched and anchored on this run's chain; the clock stops when the last anchor is mined."""
    from fedpm.sensors.device import Device
    from fedpm.sensors.gateway import Gateway, GatewayConfig
    from tests.conftest import dev_key

    devices = [Device.of(m, dev_key(k), dom) for m, k in keys.items()]
    signed = []
    for k in range(n // block):
        t0 = T_BASE + 10**9 + (k // len(devices)) * block
        signed.append(devices[k % len(devices)].sign("vibration", "g", list(range(t0, t0 + block)), [((t0 + i) % 977) / 1000 for i in range(block)])[1])
    gw = Gateway(GatewayConfig(store_path=tmp / "gw-direct.sqlite", batch_size=1000, max_age_s=1.0), c.sender("factory-2"), registry, bindings)
    gw.start()
    cpu0, start = os.times(), time.perf_counter()
    for s in signed:
        gw.submit_block(s)
    gw.request_flush()
    if not gw.wait_idle(600):
        raise SystemExit("gateway (direct) did not finish")
    elapsed, cpu1 = time.perf_counter() - start, os.times()
    anchors = gw.store.counts().get("anchors_anchored", 0)
    gw.stop()
    return {"readings_per_s": round(len(signed) * block / elapsed), "cpu_us_per_reading": round((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6 / (len(signed) * block), 2),
            "anchors": anchors}


def broker_main(port: int, n: int, size: int, ready, go, done) -> None:
    """A plain paho QoS 1 publisher of n messages of `size` bytes (what the broker alone carries)."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{os.getpid()}", clean_session=False, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    ready.set()
    go.wait(60)
    infos = [c.publish("raw/m/v", b"x" * size, qos=1) for _ in range(n)]
    for info in infos:
        info.wait_for_publish(120)
    c.loop_stop()
    done.put(True)


def broker_only(port: int, size: int, block: int, n: int = 2000) -> dict:
    """The same broker, payload size and QoS with nothing behind it: a subscriber that acknowledges at once."""
    import threading

    import paho.mqtt.client as mqtt

    got, finished = [0], threading.Event()

    def on_message(c, userdata, msg):
        got[0] += 1
        c.ack(msg.mid, msg.qos)
        if got[0] >= n:
            finished.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", clean_session=False, protocol=mqtt.MQTTv311)
    sub.manual_ack_set(True)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("raw/+/+", qos=1)
    subscribed.wait(30)
    spawn = mp.get_context("spawn")
    ready, go, done = spawn.Event(), spawn.Event(), spawn.Queue()
    proc = spawn.Process(target=broker_main, args=(port, n, size, ready, go, done), daemon=True)
    proc.start()
    ready.wait(60)
    start = time.perf_counter()  # the publisher is up and connected: time the messages only
    go.set()
    finished.wait(600)
    elapsed = time.perf_counter() - start
    proc.join(60)
    sub.loop_stop()
    sub.disconnect()
    return {"messages_per_s": round(n / elapsed), "readings_per_s_at_block": round(n * block / elapsed), "message_bytes": size}


def gas_per_anchor(c, machine: str, sizes=(1, 10, 100), batch_readings: int = 1000) -> dict:
    """The gas of one anchor over `size` batches of `batch_readings`, mined on this run's chain."""
    from fedpm.sensors.anchoring import BatchSummary, anchor_root
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.merkle import keccak256

    registry = SensorBatchRegistry(c.ctx)
    device = c.devices[machine].address
    out = {}
    for k, size in enumerate(sizes):
        summaries = [BatchSummary(machine, device, 10**6 * (k + 1) + 10 * i, 10**6 * (k + 1) + 10 * i + 9, 10, batch_readings, T_BASE, T_BASE + 999,
                                  keccak256(f"bench-{k}-{i}".encode())) for i in range(size)]
        gas = registry.anchor_root(c.sender("factory-1"), anchor_root(summaries)).gas_used
        out[str(size * batch_readings)] = {"batches": size, "gas": gas, "gas_per_reading": round(gas / (size * batch_readings), 3)}
    return out


def plant(gas_by_readings: dict) -> dict:
    """1,000 machines x 3 channels x 1 kHz: anchors/s and gas/s the chain must carry at each anchor size."""
    return {"readings_per_s": PLANT_READINGS_PER_S,
            "at_readings_per_anchor": {r: {"anchors_per_s": round(PLANT_READINGS_PER_S / int(r)), "gas_per_s": round(PLANT_READINGS_PER_S / int(r) * g["gas"])}
                                       for r, g in gas_by_readings.items()},
            "note": "anchors/s = readings/s / readings per anchor; a gateway anchoring once a second covers its machines' readings of that second, "
                    "so 100 gateways of 10 machines (30k readings each) need 100 anchors/s"}


def seq_file_write_us(folder: Path, n: int = 2000) -> dict:
    """The device's per-block seq-file write (`SeqCounter.take`: atomic_write without fsync) beside the same
    write fsynced, interleaved in rounds of 100 so both see the same disk and load; microseconds per write."""
    from fedpm.sensors.device import SeqCounter
    from ground.files import atomic_write

    counter = SeqCounter(folder / "take.seq.json")
    took = synced = 0.0
    for r in range(n // 100):
        t0 = time.perf_counter()
        for i in range(100):
            counter.take()
        t1 = time.perf_counter()
        for i in range(100):
            atomic_write(folder / "synced.seq.json", json.dumps({"next": counter.next}), sync=True)
        t2 = time.perf_counter()
        took, synced = took + t1 - t0, synced + t2 - t1
    counter.close()
    per = 1e6 / (n // 100 * 100)
    return {"take_us": round(took * per, 1), "fsynced_us": round(synced * per, 1), "fsynced_over_take": round(synced / took, 1), "writes": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--soak-s", type=float, default=5.0)
    ap.add_argument("--block", type=int, default=100, help="readings per signed block (one MQTT message)")
    ap.add_argument("--machines", type=int, default=2)
    ap.add_argument("--anchor-interval", type=float, default=1.0, help="the gateway's anchoring interval (s)")
    ap.add_argument("--soak-rate", type=float, default=50_000, help="readings/s offered during the soak (0: the rate measured)")
    args = ap.parse_args()

    from chain.connect import connect
    from chain.node import LocalChain
    from fedpm.broker import LocalBroker
    from fedpm.consortium.bootstrap import bootstrap, demo_plan
    from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
    from fedpm.sensors.gateway import Gateway, GatewayConfig
    from fedpm.sensors.merkle import _k256
    from fedpm.sensors.store import GatewayStore
    from fedpm.sensors.verify import Checker, check_batches
    from tests.conftest import dev_key, make_settings

    tmp = Path(tempfile.mkdtemp(prefix="fedpm-bench-"))
    with LocalChain() as node:
        ctx = connect(make_settings(tmp / "home", node.url))
        plan = demo_plan()
        keys = {f"factory-{i}-m1": f"device-{i}" for i in range(1, args.machines + 1)}
        c = bootstrap(ctx, plan, {p.org: dev_key(p.org) for p in plan}, devices={m: dev_key(k) for m, k in keys.items()})
        broker = LocalBroker(tmp / "broker").start()
        atexit.register(broker.stop)  # also on errors (stop is idempotent)
        registry = SensorBatchRegistry(ctx)
        dom = registry.signing_domain()
        costs = crypto_costs(args.block, dom)
        cfg = GatewayConfig(store_path=tmp / "gw.sqlite", batch_size=1000, max_age_s=1.0, anchor_interval_s=args.anchor_interval, mqtt_port=broker.port,
                            client_id="bench-gw")
        bindings = DeviceBindings(c.registry)
        gw = Gateway(cfg, c.sender("factory-1"), registry, bindings)
        gw.start()
        gw.connect_mqtt()
        spawn = mp.get_context("spawn")
        go, jobs, done = spawn.Event(), spawn.Queue(), spawn.Queue()
        proc = spawn.Process(target=publisher_main, args=(broker.port, keys, (dom.name, dom.version, dom.chain_id, dom.verifying_contract), args.block,
                                                          tmp / "devices", go, jobs, done), daemon=True)
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

        step = args.block * len(keys)
        n_main = args.readings - args.readings % step
        cpu0 = os.times()
        elapsed = run(n_main, 0)
        cpu1 = os.times()
        cpu_us = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6 / n_main  # this process: the gateway's threads
        acked, publisher_cpu_us = done.get(timeout=60)
        assert acked, "publisher: not every message was acknowledged by the broker"
        db = sqlite3.connect(cfg.store_path)
        anchors = db.execute("SELECT tx_hash, readings, batches FROM anchors WHERE status = 'anchored'").fetchall()
        n_batches = db.execute("SELECT COUNT(*) FROM batches WHERE status = 'anchored'").fetchone()[0]
        gas = sum(ctx.w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx, _, _ in anchors)
        st = GatewayStore(cfg.store_path)
        verified = sum(ch.ok for ch in check_batches(st, list(st.batches(status="anchored")), Checker(registry, bindings, dom)))  # untimed
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
        refused = gw.counters()
        anchor_gas = gas_per_anchor(c, list(keys)[0])
        direct = gateway_only(c, registry, bindings, dom, keys, args.block, tmp)
        raw = broker_only(broker.port, 4 + 20 + 32 + 8 + 2 + 11 + 16 * args.block + 65, args.block)
        broker.stop()
        seq_write = seq_file_write_us(tmp)
        load = os.getloadavg()
        print(json.dumps({
            "readings_per_s": round(n_main / elapsed),
            "gas_per_reading": round(gas / sum(r for _, r, _ in anchors), 3), "gas_per_anchor": round(gas / len(anchors)),
            "readings_per_anchor": round(n_main / len(anchors)), "anchors": len(anchors), "batches": n_batches, "batches_verified": verified,
            "gateway_cpu_us_per_reading": round(cpu_us, 2), **costs,
            "publisher_cpu_us_per_block": round(publisher_cpu_us, 1), "seq_file_write": seq_write,
            "gateway_only": direct, "broker_only": raw,
            "gas_per_anchor_by_readings": anchor_gas, "plant": plant(anchor_gas),
            "refused": refused, "rss_growth_mb": round(rss1 - rss0, 1), "rss_mb": round(rss1, 1), "readings": n_main,
            "soak_s": args.soak_s, "soak_offered_per_s": round(soak_offered), "soak_readings_per_s": soak_rate, "rss_samples_s_mb": samples[-25:],
            "publisher": {"process": "separate (spawned), signs every block", "qos": 1, "readings_per_block": args.block, "machines": len(keys),
                          "topic": "fedpm/<machine>/vibration", "payload": "signed block (canonical bytes + 65-byte signature)"},
            "gateway": {"batch_readings": cfg.batch_size, "anchor_interval_s": cfg.anchor_interval_s},
            "counted": "readings whose batch's anchor is mined",
            "keccak": _k256.__module__, "loadavg": [round(x, 2) for x in load], "cpus": os.cpu_count(),
        }))


if __name__ == "__main__":
    main()
