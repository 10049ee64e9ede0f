"""Chaos: under load, the gateway is SIGKILLed and the broker SIGKILLed or SIGTERMed at random (seeded) moments and
restarted. At the end every block the devices signed (by its device seq) is anchored or reported missing by its seq,
never both, never neither. Real mosquitto, real gateway process (`fedpm gateway run`), real anvil."""

from __future__ import annotations

import json
import random
import signal
import threading
import time

import pytest

from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.device import Device
from fedpm.sensors.store import GatewayStore
from tests.sensor_helpers import Mosquitto, fedpm, gateway_env, needs_mosquitto, readings_t0, start_gateway, wait_for

pytestmark = pytest.mark.usefixtures("snapshot")
M1, M2 = "factory-1-m1", "factory-2-m1"
BLOCK = 20  # readings per published block


def missing_seqs(gaps: list[dict], device: str) -> set[int]:
    return {s for g in gaps if g["device"] == device for s in range(g["first"], g["last"] + 1)}


@needs_mosquitto
def test_every_sent_block_is_anchored_or_reported_missing_through_gateway_and_broker_crashes(consortium, ctx, tmp_path):
    from fedpm.sensors.simulate import Publisher

    rng = random.Random(11)
    broker = Mosquitto(tmp_path / "broker").start()
    env = gateway_env(tmp_path / "home", ctx, consortium, {"relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    log = tmp_path / "gw.log"
    args = ["--as", "relayer", "--store", str(store), "--batch-size", "200", "--max-age", "0.3", "--anchor-interval", "0.5", "--port", str(broker.port),
            "--client-id", "chaos-gw"]
    gw = start_gateway(env, *args, log=log)
    dom = SensorBatchRegistry(ctx).signing_domain()
    devices = {m: Device.of(m, consortium.devices[m], dom) for m in (M1, M2)}
    address = {m: d.address for m, d in devices.items()}
    pub = Publisher("127.0.0.1", broker.port, client_id="chaos-pub", devices=devices)
    sent: dict[str, dict[int, int]] = {M1: {}, M2: {}}  # machine -> seq -> readings in that block
    stop = threading.Event()
    base = readings_t0(consortium)

    def load() -> None:  # ~2 x 50 blocks/s of 20 readings; never more than 500 blocks awaiting the broker's ack
        k = 0
        while not stop.is_set():
            for m in (M1, M2):
                t0 = base + k * BLOCK
                sent[m][pub.publish(m, "vibration", {"ts": list(range(t0, t0 + BLOCK)), "values": [(k + i) / 100 for i in range(BLOCK)], "unit": "g"})] = BLOCK
            k += 1
            time.sleep(0.02)
            while len(pub._pending) > 500 and not stop.is_set():
                time.sleep(0.01)

    events = []
    publisher = threading.Thread(target=load, daemon=True)
    try:
        assert pub.wait_connected(10)
        assert wait_for(lambda: "subscribed to" in log.read_text(), 60), log.read_text()
        publisher.start()
        for _ in range(6):
            time.sleep(rng.uniform(0.3, 2.0))
            what = rng.choice(["gateway SIGKILL", "broker SIGKILL", "broker SIGTERM", "gateway SIGKILL, then broker SIGKILL"])
            events.append(what)
            if what.startswith("gateway"):
                gw.send_signal(signal.SIGKILL)
                gw.wait(10)
                time.sleep(rng.uniform(0.1, 1.0))  # the broker queues the gateway's messages meanwhile
            if what.startswith("broker") or what.endswith("broker SIGKILL"):
                broker.proc.send_signal(signal.SIGTERM if what == "broker SIGTERM" else signal.SIGKILL)
                broker.proc.wait(10)
                time.sleep(rng.uniform(0.1, 1.0))
                broker.start()
            if what.startswith("gateway"):
                gw = start_gateway(env, *args, log=log)
        time.sleep(2.0)  # a calm tail: anything lost in the chaos lies below a seq that arrives
        stop.set()
        publisher.join(10)
        assert pub.wait_published(60), "the publisher's blocks were not all acknowledged"
        last = {m: max(sent[m]) for m in sent}

        def settled() -> bool:
            st = GatewayStore(store)
            try:
                got = {s["machine"]: s["last_seq"] for s in st.reception()["streams"]}
                c = st.counts()
                return got == last and c["readings_pending"] == 0
            finally:
                st.close()

        assert wait_for(settled, 60), (GatewayStore(store).counts(), last, log.read_text()[-3000:])
        gw.send_signal(signal.SIGTERM)
        gw.communicate(timeout=30)
        status = fedpm("gateway", "status", "--store", str(store), env=env)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
    finally:
        stop.set()
        pub.close()
        if gw.poll() is None:
            gw.kill()
        broker.stop()

    st = GatewayStore(store)
    total_missing = 0
    for m in (M1, M2):
        anchored = set(st.block_seqs(address[m], "anchored"))
        missing = missing_seqs(report["gaps"], address[m])
        assert anchored | missing == set(sent[m]), (m, sorted(set(sent[m]) - anchored - missing)[:20])
        assert not anchored & missing
        in_batches = sum(b.count for b in st.batches(machine=m, status="anchored"))
        assert in_batches == BLOCK * len(anchored)  # each received reading anchored exactly once
        total_missing += len(missing)
    assert report["blocks_missing"] == total_missing
    assert ("never received" in status.stderr) == (total_missing > 0)
    assert report["refused"]["forged"] == report["refused"]["unsigned"] == report["refused"]["unbound"] == 0
    check = fedpm("verify", "batch", "--store", str(store), env=env)
    assert check.returncode == 0, check.stderr[-2000:]  # every anchored batch verifies: no (device, seq) anchored twice
    print(f"chaos events {events}: {sum(map(len, sent.values()))} blocks sent, {total_missing} reported missing by seq, the rest anchored; "
          f"{report['refused']['replayed']} redeliveries refused as replayed, {report['refused']['out_of_sequence']} too late to batch in order")
