"""A few seconds of the sensor pipeline for the demo: devices sign at the source -> MQTT -> a gateway with no device key
-> one anchored root -> every batch verified and one reading proven (origin and inclusion)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.device import Device
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.simulate import Publisher, run_vibration
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import Checker, batch_blocks, check_batches, check_reading_proof, reading_proof


def run_sensor_demo(consortium: Any, store_path: Path, host: str, port: int, machines: dict[str, str] | None = None, seconds: float = 2.0, *,
                    relayer: str = "factory-1", batch_size: int = 8192) -> dict:
    """Simulate `seconds` of signals for machines (machine -> health state; default every consortium device,
    healthy), each signed by its machine's device key; run a gateway on the broker at host:port, anchor, verify every
    batch and prove one reading. Returns a summary."""
    states = machines or {m: "healthy" for m in consortium.devices}
    ctx = consortium.ctx
    registry = SensorBatchRegistry(ctx)
    bindings = DeviceBindings(consortium.registry)
    dom = registry.signing_domain()
    # batches close when full or at the flush after publishing, not by age: so however slowly a loaded host delivers the
    # devices' blocks, the demo's batches go out under one root of roots (the gateway's first anchor is due at once)
    cfg = GatewayConfig(store_path=store_path, batch_size=batch_size, max_age_s=30.0, anchor_interval_s=0.5, mqtt_host=host, mqtt_port=port,
                        client_id=f"fedpm-demo-gw-{time.time_ns()}")
    gw = Gateway(cfg, consortium.sender(relayer), registry, bindings)
    gw.start()
    gw.connect_mqtt()
    devices = {m: Device.of(m, consortium.devices[m], dom) for m in states}
    pub = Publisher(host, port, client_id=f"fedpm-demo-sim-{time.time_ns()}", devices=devices)
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
        checker = Checker(registry, bindings, dom)
        batches = list(st.batches(status="anchored"))
        checks = check_batches(st, batches, checker)
        proof = None
        if batches:
            b = max(batches, key=lambda b: b.blocks)
            middle = batch_blocks(b)[b.blocks // 2]
            proof = check_reading_proof(reading_proof(st, b, middle.seq, middle.n // 2, checker), checker).to_json()
        anchors = counts.get("anchors_anchored", 0)
        st.close()
    finally:
        pub.close()
        gw.stop()
    return {"readings_sent": sent, "readings_anchored": counts.get("readings_anchored", 0), "batches_anchored": len(batches), "anchors": anchors,
            "batches_verified": sum(c.ok for c in checks), "refused": gw.counters(), "proof": proof}


def format_sensor_demo(summary: dict) -> str:
    lines = [f"sensors: {summary['readings_anchored']}/{summary['readings_sent']} device-signed readings in {summary['batches_anchored']} batches "
             f"under {summary['anchors']} anchored root(s), {summary['batches_verified']} batches verified (signatures, roots, chain)"]
    p = summary.get("proof")
    if p:
        r, blk = p["reading"], p["block"]
        lines.append(f"  proof: {r['machine']} {r['channel']}={r['value']} {r['unit']} @ {r['ts']}: signed by device {p['batch']['device'][:10]}… "
                     f"(origin {'ok' if p['origin_ok'] else 'FAIL'}), block -> batch root with {len(blk['proof']['siblings'])} siblings -> anchored root "
                     f"with {len(p['batch_proof']['siblings'])} (inclusion {'ok' if p['inclusion_ok'] else 'FAIL'}, contract {'ok' if p['chain_ok'] else 'FAIL'})")
    return "\n".join(lines)
