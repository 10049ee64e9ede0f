"""The gateway as real processes: real mosquitto (killed and restarted), gateway killed -9 and restarted, real anvil.
Also the offline path (`fedpm device run --out` -> `fedpm gateway ingest`), tamper detection by `verify`,
crash-after-anchor reconciliation and the training API."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.device import Device
from fedpm.sensors.encoding import Reading, encode_frames, iter_frames, parse_signed
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import Checker
from tests.sensor_helpers import Mosquitto, batch_of, fedpm, gateway_env, needs_mosquitto, readings_t0, sign_blocks, start_gateway, wait_for

pytestmark = pytest.mark.usefixtures("snapshot")
M1 = "factory-1-m1"


def anchored_readings(store_path) -> list[Reading]:
    db = sqlite3.connect(store_path)
    rows = db.execute("SELECT data FROM batches WHERE status = 'anchored' ORDER BY device, first_seq").fetchall()
    db.close()
    return [r for (data,) in rows for f in iter_frames(data) for r in parse_signed(f).readings()]


def checker(consortium) -> Checker:
    return Checker.of(SensorBatchRegistry(consortium.ctx), DeviceBindings(consortium.registry))


@needs_mosquitto
def test_no_reading_is_lost_across_broker_and_gateway_restarts(consortium, ctx, tmp_path):
    from fedpm.sensors.simulate import Publisher

    broker = Mosquitto(tmp_path / "broker").start()
    env = gateway_env(tmp_path / "home", ctx, consortium, {"relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    args = ["--as", "relayer", "--store", str(store), "--batch-size", "50", "--max-age", "0.3", "--anchor-interval", "0.3", "--port", str(broker.port)]
    gw = start_gateway(env, *args, log=tmp_path / "gw.log")
    device = Device.of(M1, consortium.devices[M1], SensorBatchRegistry(ctx).signing_domain())
    pub = Publisher("127.0.0.1", broker.port, client_id="test-pub", devices={M1: device})
    assert pub.wait_connected(10)
    # the gateway subscribes (its persistent session keeps messages from then on); a loaded machine may take a while
    assert wait_for(lambda: "subscribed to" in (tmp_path / "gw.log").read_text(), 60), (tmp_path / "gw.log").read_text()
    expected = []
    t0 = readings_t0(consortium)

    def publish(k0: int, k1: int) -> None:
        for k in range(k0, k1):
            ts = list(range(t0 + 10 * k, t0 + 10 * k + 10))
            vals = [k + i / 10 for i in range(10)]
            pub.publish(M1, "vibration", {"ts": ts, "values": vals, "unit": "g"})
            expected.extend((t, v) for t, v in zip(ts, vals))

    try:
        publish(0, 30)
        pub.client.publish(f"fedpm/{M1}/vibration", b"{not json", qos=0)  # malformed: counted, never fatal
        pub.client.publish(f"fedpm/{M1}/vibration", b'{"ts": [1], "values": [1.0]}', qos=0)  # unsigned: refused, counted
        assert pub.wait_published(20)
        # QoS 0 is fire-and-forget: let the gateway see both before the broker goes down
        assert wait_for(lambda: (tmp_path / "gw.log").read_text().count("block refused") >= 2, 30)
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
        assert gw.poll() is None  # refused payloads did not stop it
        gw.send_signal(signal.SIGTERM)
        gw.communicate(timeout=30)
        status = fedpm("gateway", "status", "--store", str(store), env=env)
        refused = json.loads(status.stdout)["refused"]
        assert refused["malformed"] >= 1 and refused["unsigned"] >= 1 and refused["forged"] == 0 and "refused" in status.stderr
        assert fedpm("verify", "batch", "--store", str(store), env=env).returncode == 0
    finally:
        pub.close()
        if gw.poll() is None:
            gw.kill()
        broker.stop()


def test_blocks_signed_offline_are_ingested_and_a_tampered_value_is_reported_with_batch_and_position(consortium, ctx, tmp_path):
    env = gateway_env(tmp_path / "home", ctx, consortium, {"device-1": consortium.devices[M1], "relayer": consortium.accounts["factory-1"]})
    csv_file = tmp_path / "in.csv"
    t0 = readings_t0(consortium)
    csv_file.write_text("channel,ts_ms,value,unit\n" + "".join(f"temperature,{t0 + i},{40 + i / 100},C\n" for i in range(25)))
    blocks, store = tmp_path / "blocks.bin", tmp_path / "gw.sqlite"

    signed = fedpm("device", "run", "--device", "device-1", "--machine", M1, "--input", str(csv_file), "--block", "5", "--out", str(blocks), env=env)
    done = fedpm("gateway", "ingest", "--as", "relayer", "--store", str(store), "--batch-size", "10", str(blocks), env=env)

    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout) | {"device": None} == {"device": None, "machine": M1, "readings": 25, "blocks": 5, "next_seq": 5, "all_acknowledged": True}
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["readings_anchored"] == 25 and json.loads(done.stdout)["anchors_anchored"] >= 1
    ok = fedpm("verify", "reading", "--machine", M1, "--seq", "3", "--index", "2", "--store", str(store), env=env)
    assert ok.returncode == 0, ok.stderr
    proof = json.loads(ok.stdout)
    assert proof["reading"]["value"] == 40 + 17 / 100 and proof["origin_ok"] and proof["inclusion_ok"] and proof["chain_ok"]
    again = fedpm("device", "run", "--device", "device-1", "--machine", M1, "--input", str(csv_file), "--block", "5", "--out", str(tmp_path / "more.bin"), env=env)
    assert json.loads(again.stdout)["next_seq"] == 10  # the device's seqs continue across runs

    db = sqlite3.connect(store)
    bid, data = db.execute("SELECT id, data FROM batches WHERE first_seq <= 3 AND last_seq >= 3").fetchone()
    frames = list(iter_frames(data))
    b = parse_signed(frames[1])  # block 3: the second of its batch
    values = b.values().copy()
    values[2] = 99.0
    frames[1] = b.block[: len(b.block) - 8 * b.n] + values.astype(">f8").tobytes() + b.signature
    db.execute("UPDATE batches SET data = ? WHERE id = ?", (encode_frames(frames), bid))
    db.commit()
    db.close()

    bad = fedpm("verify", "batch", "--store", str(store), env=env)
    assert bad.returncode == 2
    assert f"{M1} seq 2..3 forged at block position 1" in bad.stderr
    reading = fedpm("verify", "reading", "--machine", M1, "--seq", "3", "--index", "2", "--store", str(store), env=env)
    assert reading.returncode == 2 and json.loads(reading.stdout)["origin_ok"] is False and "not signed by its device" in reading.stderr
    handed = tmp_path / "proof.json"
    handed.write_text(json.dumps(proof))
    assert fedpm("verify", "reading", "--proof", str(handed), env=env).returncode == 0  # the proof taken before still verifies alone

    from fedpm.sensors.api import verified_data
    got = verified_data(store, checker(consortium), M1).readings
    assert len(got) == 15 and all(r.value != 99.0 for r in got)  # the forged batch is left out entirely


def test_unsigned_input_and_missing_store_are_clear_errors(consortium, ctx, tmp_path):
    env = gateway_env(tmp_path / "home", ctx, consortium, {"device-1": consortium.devices[M1], "relayer": consortium.accounts["factory-1"]})
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(f"temperature,{readings_t0(consortium)},40.0,C\ntemperature,soon,41.0,C\n")

    run = fedpm("device", "run", "--device", "device-1", "--machine", M1, "--input", str(bad_csv), "--out", str(tmp_path / "b.bin"), env=env)
    status = fedpm("gateway", "status", "--store", str(tmp_path / "nope.sqlite"), env=env)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(b"\x00\x00\x01\x00abc")
    ingest = fedpm("gateway", "ingest", "--as", "relayer", "--store", str(tmp_path / "gw.sqlite"), str(cut), env=env)

    assert run.returncode == 1 and "row 2: ts_ms must be an integer" in run.stderr and "nothing after it was signed" in run.stderr
    assert status.returncode == 1 and "no gateway store at" in status.stderr and "--store" in status.stderr
    assert ingest.returncode == 1 and "cut off" in ingest.stderr


def test_a_crash_after_anchoring_before_marking_does_not_anchor_twice(consortium, tmp_path):
    registry = SensorBatchRegistry(consortium.ctx)
    store = GatewayStore(tmp_path / "gw.sqlite", create=True)
    blocks = sign_blocks(consortium.devices[M1], M1, registry.signing_domain(), range(3), t0=readings_t0(consortium))
    store.persist_blocks(blocks)
    summary, leaves = batch_of(blocks)
    bid = store.close_batch(summary, encode_frames(b.signed for b in blocks), b"".join(leaves), [r.id for r in store.inbox()], [0, 1, 2])
    from fedpm.sensors.anchoring import anchor_root
    root = anchor_root([summary])
    aid = store.create_anchor(root, [bid])
    mined = registry.anchor_root(consortium.sender("factory-1"), root)  # mined, then "crash" before marking

    gw = Gateway(GatewayConfig(store_path=tmp_path / "gw.sqlite"), consortium.sender("factory-1"), registry, DeviceBindings(consortium.registry))
    gw.start()
    try:
        assert gw.wait_idle(timeout=30)
    finally:
        gw.stop()

    a = store.anchor(aid)
    assert a.status == "anchored" and a.tx_hash == mined.tx_hash and a.block_number == mined.block_number
    assert len(registry.logs("RootAnchored", root=root.root)) == 1
    assert registry.is_anchored(a.anchor)
    assert [b.status for b in store.batches()] == ["anchored"]
    assert gw._watermark == {consortium.devices[M1].address: 2}


def test_the_gateway_takes_each_block_only_from_the_key_of_its_reading_times(consortium, tmp_path):
    """The maker rotates factory-4-m1's key at time `at`: the old key's blocks stamped before `at` are taken, one whose
    last reading is at `at` refused; the new key's from `at` on taken, before it refused; once the new key is revoked
    nothing more of it is taken. What was taken verifies (signatures, windows, anchors)."""
    from fedpm.sensors.verify import check_batches
    from tests.conftest import dev_key

    machine, reg = "factory-4-m1", consortium.registry
    old, new = consortium.devices[machine], dev_key("device-4-rotated")
    at = reg.now() + 100
    assert reg.rotate_device(consortium.sender("maker"), machine, new.address, at).pending is None
    registry = SensorBatchRegistry(consortium.ctx)
    dom, t = registry.signing_domain(), at * 1000

    def block(key, seq: int, first_ms: int):  # readings at first_ms .. first_ms + 30
        return sign_blocks(key, machine, dom, [seq], t0=first_ms - 1000 * seq)[0]

    def refusals() -> dict:
        return {k: v for k, v in gw.counters().items() if v}

    taken = [block(old, 0, t - 5000), block(new, 1, t + 1000)]
    refused = [block(old, 1, t - 20), block(new, 0, t - 2000)]  # the old key's last reading at `at`; the new key's before it
    gw = Gateway(GatewayConfig(store_path=tmp_path / "gw.sqlite", batch_size=1000, max_age_s=0.2, anchor_interval_s=0.2), consortium.sender("factory-2"),
                 registry, DeviceBindings(reg, ttl_s=0))
    gw.start()
    try:
        for b in (taken[0], refused[0], refused[1], taken[1]):
            gw.submit_block(b.signed)
        assert wait_for(lambda: refusals() == {"unbound": 2}, 30), refusals()
        gw.request_flush()
        assert gw.wait_idle(30)
        reg.revoke_device(consortium.sender("maker"), new.address)
        gw.submit_block(block(new, 2, t + 2000).signed)  # the revoked key, inside its window
        assert wait_for(lambda: refusals() == {"unbound": 3}, 30), refusals()
    finally:
        gw.stop()

    store = GatewayStore(tmp_path / "gw.sqlite")
    batches = list(store.batches(status="anchored"))
    assert sorted(r for b in batches for f in iter_frames(b.data) for r in parse_signed(f).readings()) == sorted(r for b in taken for r in b.readings())
    assert [c.status for c in check_batches(store, batches, checker(consortium))] == ["ok", "ok"]  # anchored before the revocation
