"""A few seconds of the sensor pipeline for the demo: simulator -> MQTT -> gateway -> anchors -> a verified proof."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.simulate import Publisher, run_vibration
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import check_batch, check_reading


def run_sensor_demo(consortium: Any, store_path: Path, host: str, port: int, machines: dict[str, str] | None = None, seconds: float = 2.0, *, relayer: str = "factory-1", batch_size: int = 1000) -> dict:
    """Simulate `seconds` of signals for machines (machine -> health state; default every consortium device,
    healthy), run a gateway on the broker at host:port, anchor, and verify one reading. Returns a summary."""
    states = machines or {m: "healthy" for m in consortium.devices}
    ctx = consortium.ctx
    registry = SensorBatchRegistry(ctx)
    cfg = GatewayConfig(store_path=store_path, devices={m: consortium.devices[m] for m in states}, batch_size=batch_size, max_age_s=0.5, mqtt_host=host, mqtt_port=port, client_id=f"fedpm-demo-gw-{time.time_ns()}")
    gw = Gateway(cfg, consortium.sender(relayer), registry, ctx.w3.eth.chain_id)
    gw.start()
    gw.connect_mqtt()
    pub = Publisher(host, port, client_id=f"fedpm-demo-sim-{time.time_ns()}")
    try:
        pub.wait_connected(10)
        gw.wait_subscribed(30)
        sent = run_vibration(pub, states, seconds, realtime=False)
        pub.wait_published(30)
        deadline = time.monotonic() + 30
        st = GatewayStore(store_path)
        while time.monotonic() < deadline and st.counts().get("readings_anchored", 0) < sent:
            time.sleep(0.1)
            if time.monotonic() > deadline - 29:
                gw.request_flush()
        counts = st.counts()
        batches = list(st.batches(status="anchored"))
        checks = [check_batch(b, registry) for b in batches]
        proof = check_reading(batches[0], batches[0].count // 2, registry) if batches else None
        st.close()
    finally:
        pub.close()
        gw.stop()
    return {"readings_sent": sent, "readings_anchored": counts.get("readings_anchored", 0), "batches_anchored": len(batches),
            "batches_verified": sum(c.ok for c in checks), "proof": proof.to_json() if proof else None}


def format_sensor_demo(summary: dict) -> str:
    lines = [f"sensors: {summary['readings_anchored']}/{summary['readings_sent']} readings in {summary['batches_anchored']} anchored batches, {summary['batches_verified']} verified against the chain"]
    p = summary.get("proof")
    if p:
        r = p["reading"]
        lines.append(f"  proof: {p['machine']} seq {p['seq']} reading {p['index']} ({r['channel']}={r['value']} {r['unit']} @ {r['ts']}) "
                     f"-> root {p['root'][:18]}… with {len(p['proof']['siblings'])} siblings: local {'ok' if p['local_ok'] else 'FAIL'}, chain {'ok' if p['chain_ok'] else 'FAIL'}")
    return "\n".join(lines)
