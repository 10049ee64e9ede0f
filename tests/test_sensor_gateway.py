"""The gateway as real processes: real mosquitto (killed and restarted), gateway killed -9 and restarted, real anvil.
Also CSV ingestion, tamper detection by `verify`, crash-after-anchor reconciliation and the training API."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from fedpm.sensors.client import Anchor, SensorBatchRegistry
from fedpm.sensors.encoding import Reading, decode_batch, encode_batch, encode_reading, split_batch
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.merkle import leaf_hash, merkle_root
from fedpm.sensors.signing import BatchHeader, sign_batch
from fedpm.sensors.store import GatewayStore
from tests.sensor_helpers import Mosquitto, fedpm, gateway_env, needs_mosquitto, start_gateway, wait_for

pytestmark = pytest.mark.usefixtures("snapshot")
M1 = "factory-1-m1"


def anchored_readings(store_path) -> list[Reading]:
    db = sqlite3.connect(store_path)
    rows = db.execute("SELECT data FROM batches WHERE status = 'anchored' ORDER BY seq").fetchall()
    db.close()
    return [r for (data,) in rows for r in decode_batch(data)]



@needs_mosquitto
def test_no_reading_is_lost_across_broker_and_gateway_restarts(consortium, ctx, tmp_path):
    from fedpm.sensors.simulate import Publisher

    broker = Mosquitto(tmp_path / "broker").start()
    env = gateway_env(tmp_path / "home", ctx, consortium, {"device-1": consortium.devices[M1], "relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    args = ["--as", "relayer", "--device", f"{M1}=device-1", "--store", str(store), "--batch-size", "50", "--max-age", "0.3", "--port", str(broker.port)]
    gw = start_gateway(env, *args, log=tmp_path / "gw.log")
    pub = Publisher("127.0.0.1", broker.port, client_id="test-pub")
    assert pub.wait_connected(10)
    # the gateway subscribes (its persistent session keeps messages from then on); a loaded machine may take a while
    assert wait_for(lambda: "subscribed to" in (tmp_path / "gw.log").read_text(), 60), (tmp_path / "gw.log").read_text()
    expected = []

    def publish(k0: int, k1: int) -> None:
        for k in range(k0, k1):
            ts = list(range(1_700_000_000_000 + 10 * k, 1_700_000_000_000 + 10 * k + 10))
            vals = [k + i / 10 for i in range(10)]
            pub.publish(M1, "vibration", {"ts": ts, "values": vals, "unit": "g"})
            expected.extend((t, v) for t, v in zip(ts, vals))

    try:
        publish(0, 30)
        pub.client.publish(f"fedpm/{M1}/vibration", b"{not json", qos=0)  # malformed: counted, never fatal
        pub.client.publish(f"fedpm/{M1}/vibration", b'{"ts": "x", "value": 1}', qos=0)
        assert pub.wait_published(20)
        # QoS 0 is fire-and-forget: let the gateway see both before the broker goes down
        assert wait_for(lambda: (tmp_path / "gw.log").read_text().count("malformed message dropped") >= 2, 30)
        broker.stop()  # broker restart while publishing
        publish(30, 45)  # queued by the publisher while the broker is down
        broker.start()
        publish(45, 60)
        assert pub.wait_published(30)
        gw.send_signal(signal.SIGKILL)  # gateway crash
        gw.wait(10)
        publish(60, 90)  # the broker keeps these for the gateway's persistent session
        assert pub.wait_published(30)
        gw = start_gateway(env, *args, log=tmp_path / "gw.log")
        publish(90, 100)
        assert pub.wait_published(30)

        ok = wait_for(lambda: store.exists() and len(anchored_readings(store)) >= len(expected), 60)
        assert ok, (GatewayStore(store).counts(), len(expected), (tmp_path / "gw.log").read_text()[-2000:])
        time.sleep(1.0)  # any late duplicate would show up now
        got = [(r.ts_ms, r.value) for r in anchored_readings(store)]
        assert sorted(got) == sorted(expected)  # every reading exactly once
        device = consortium.devices[M1].address
        n_batches = sqlite3.connect(store).execute("SELECT COUNT(*) FROM batches WHERE status='anchored'").fetchone()[0]
        assert SensorBatchRegistry(consortium.ctx).next_seq(device) == n_batches
        assert gw.poll() is None  # malformed payloads did not stop it
        gw.send_signal(signal.SIGTERM)
        out, _ = gw.communicate(timeout=30)
        status = json.loads(fedpm("gateway", "status", "--store", str(store), env=env).stdout)
        assert status["malformed"] >= 2
        assert fedpm("verify", "batch", "--store", str(store), env=env).returncode == 0
    finally:
        pub.close()
        if gw.poll() is None:
            gw.kill()
        broker.stop()


def test_csv_ingestion_then_tampering_is_reported_with_batch_and_position(consortium, ctx, tmp_path):
    env = gateway_env(tmp_path / "home", ctx, consortium, {"device-1": consortium.devices[M1], "relayer": consortium.accounts["factory-1"]})
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("machine,channel,ts_ms,value,unit\n" + "".join(f"{M1},temperature,{1_700_000_000_000 + i},{40 + i / 100},C\n" for i in range(25)) + "garbage,row\n")
    store = tmp_path / "gw.sqlite"

    done = fedpm("gateway", "csv", "--as", "relayer", "--device", f"{M1}=device-1", "--store", str(store), "--batch-size", "10", str(csv_file), env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["readings_anchored"] == 25
    ok = fedpm("verify", "reading", "--machine", M1, "--seq", "1", "--index", "3", "--store", str(store), env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["chain_ok"] is True

    db = sqlite3.connect(store)
    (data,) = db.execute("SELECT data FROM batches WHERE seq = 1").fetchone()
    readings = decode_batch(data)
    readings[3] = readings[3]._replace(value=99.0)
    db.execute("UPDATE batches SET data = ? WHERE seq = 1", (encode_batch(readings),))
    db.commit()
    db.close()

    bad = fedpm("verify", "batch", "--store", str(store), env=env)
    assert bad.returncode == 2
    assert f"{M1} seq 1 tampered" in bad.stderr and "position 3" in bad.stderr
    proof = fedpm("verify", "reading", "--machine", M1, "--seq", "1", "--index", "3", "--store", str(store), env=env)
    assert proof.returncode == 2 and json.loads(proof.stdout)["chain_ok"] is False

    from fedpm.sensors.api import verified_readings
    got = verified_readings(store, SensorBatchRegistry(consortium.ctx), M1)
    assert len(got) == 15 and all(r.value != 99.0 for r in got)  # the tampered batch is left out entirely


def test_crash_after_anchoring_before_marking_does_not_double_anchor(consortium, tmp_path):
    registry = SensorBatchRegistry(consortium.ctx)
    device = consortium.devices[M1]
    store = GatewayStore(tmp_path / "gw.sqlite", create=True)
    enc = [encode_reading(Reading(M1, "current", 1_700_000_000_000 + i, 10.0 + i, "A")) for i in range(5)]
    header = BatchHeader(M1, 0, 1_700_000_000_000, 1_700_000_000_004, 5, merkle_root(enc))
    sig = sign_batch(device, header, consortium.ctx.w3.eth.chain_id, registry.address)
    store.close_batch(header, device.address, sig, encode_batch([]) [:4] + (5).to_bytes(4, "big") + b"".join(len(e).to_bytes(2, "big") + e for e in enc), b"".join(map(leaf_hash, enc)), [])
    registry.anchor(consortium.sender("factory-1"), store.unanchored())  # mined, then "crash" before marking

    gw = Gateway(GatewayConfig(store_path=tmp_path / "gw.sqlite", devices={M1: device}), consortium.sender("factory-1"), registry, consortium.ctx.w3.eth.chain_id)
    gw.recover()

    (b,) = list(store.batches())
    assert b.status == "anchored" and b.block_number is not None
    assert registry.next_seq(device.address) == 1
    assert registry.is_anchored(Anchor.of(b))
    assert gw._seq[M1] == 1
    assert split_batch(b.data) == enc
