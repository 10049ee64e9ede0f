"""Benchmark: MQTT in -> signed, mined anchors out, 1,000-reading batches. Prints one JSON object.

Real anvil, real mosquitto (temp config, free port), the gateway in-process (its own threads), a publisher
sending 100-reading block messages. `--soak-s` runs a second phase at the same load and reports the gateway
process's RSS growth over it.
"""

from __future__ import annotations

import argparse
import json
import resource  # noqa: F401
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--soak-s", type=float, default=5.0)
    args = ap.parse_args()

    from chain.connect import connect
    from chain.node import LocalChain
    from fedpm.consortium import bootstrap, demo_plan
    from fedpm.sensors.gateway import Gateway, GatewayConfig
    from fedpm.sensors.simulate import Publisher
    from fedpm.sensors.store import Store
    from tests.conftest import dev_key, make_settings
    from tests.sensor_helpers import Mosquitto

    tmp = Path(tempfile.mkdtemp(prefix="fedpm-bench-"))
    with LocalChain() as node:
        ctx = connect(make_settings(tmp / "home", node.url))
        plan = demo_plan()
        c = bootstrap(ctx, plan, {p.org: dev_key(p.org) for p in plan}, devices={f"factory-{i}-m1": dev_key(f"device-{i}") for i in range(1, 3)})
        broker = Mosquitto(tmp / "broker").start()
        machines = list(c.devices)
        cfg = GatewayConfig(store_path=tmp / "gw.sqlite", devices=dict(c.devices), batch_size=1000, max_age_s=1.0, mqtt_port=broker.port, client_id="bench-gw")
        gw = Gateway(cfg, c.sender("factory-1"), c.contract("SensorBatchRegistry"), ctx.w3.eth.chain_id)
        gw.start()
        gw.connect_mqtt()
        pub = Publisher("127.0.0.1", broker.port, client_id="bench-pub")
        pub.wait_connected(10)
        time.sleep(0.5)
        probe = Store(cfg.store_path)
        t_base = 1_700_000_000_000

        def run(n: int, offset: int) -> float:
            start = time.perf_counter()
            for k in range(n // 100):
                m = machines[k % len(machines)]
                t0 = t_base + offset + (k // len(machines)) * 100
                pub.publish(m, "vibration", {"ts": list(range(t0, t0 + 100)), "values": [((t0 + i) % 977) / 1000 for i in range(100)], "unit": "g"})
            target = offset + n
            while probe.counts()["readings_anchored"] < target:
                time.sleep(0.01)
            return time.perf_counter() - start

        elapsed = run(args.readings, 0)
        anchored = list(probe.batches(status="anchored"))
        rcpts = {b.tx_hash for b in anchored}
        gas = sum(ctx.w3.eth.get_transaction_receipt(h)["gasUsed"] for h in rcpts)
        rss0 = rss_mb()
        soak_n = int(args.soak_s * args.readings / max(elapsed, 1e-9))
        soak_n -= soak_n % (100 * len(machines))
        if soak_n:
            run(soak_n, args.readings)
        rss1 = rss_mb()
        pub.close()
        gw.stop()
        broker.stop()
        print(json.dumps({
            "readings_per_s": round(args.readings / elapsed),
            "gas_per_batch": round(gas / len(anchored)),
            "gas_per_reading": round(gas / sum(b.count for b in anchored), 2),
            "rss_growth_mb": round(rss1 - rss0, 1),
            "readings": args.readings, "batches": len(anchored), "transactions": len(rcpts), "soak_s": args.soak_s,
            "note": "gateway in-process with the publisher; rss is that process",
        }))


if __name__ == "__main__":
    main()
