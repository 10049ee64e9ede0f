"""The sensor pipeline's other ways in and out: the demo, the chain going away under the gateway, a device piping
signed blocks into a gateway (stdin to stdout to stdin) and the `fedpm simulate` commands (as subprocesses of the
real CLI). Real anvil and mosquitto."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest

from chain.connect import web3_at
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.store import GatewayStore
from tests.sensor_helpers import REPO, Mosquitto, TcpProxy, gateway_env, needs_mosquitto, readings_t0, sign_blocks

pytestmark = pytest.mark.usefixtures("snapshot")
M1, M2 = "factory-1-m1", "factory-2-m1"


def cli(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedpm.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, **kw)


@needs_mosquitto
def test_sensor_demo_anchors_batches_and_verifies_a_proof(consortium, tmp_path):
    from fedpm.sensors.demo import format_sensor_demo, run_sensor_demo

    broker = Mosquitto(tmp_path / "broker").start()
    try:
        summary = run_sensor_demo(consortium, tmp_path / "gw.sqlite", "127.0.0.1", broker.port, {M1: "healthy", M2: "failure"}, seconds=0.5)
    finally:
        broker.stop()

    assert summary["readings_sent"] > 1000
    assert summary["readings_anchored"] == summary["readings_sent"]
    assert summary["batches_anchored"] >= 2 and summary["batches_verified"] == summary["batches_anchored"]
    assert 1 <= summary["anchors"] < summary["batches_anchored"]  # roots of roots: fewer anchors than batches
    proof = summary["proof"]
    assert proof["origin_ok"] is True and proof["inclusion_ok"] is True and proof["chain_ok"] is True and proof["block"]["proof"]["siblings"]
    assert not any(summary["refused"].values())
    assert "FAIL" not in format_sensor_demo(summary)


def test_gateway_keeps_readings_while_the_chain_is_down_and_anchors_when_it_returns(consortium, ctx, tmp_path):
    proxy = TcpProxy(int(ctx.w3.provider.endpoint_uri.rsplit(":", 1)[1])).start()
    via = dataclasses.replace(ctx, w3=web3_at(proxy.url))
    registry = SensorBatchRegistry(ctx)
    blocks = sign_blocks(consortium.devices[M1], M1, registry.signing_domain(), range(5), readings=10, t0=readings_t0(consortium))
    cfg = GatewayConfig(store_path=tmp_path / "gw.sqlite", batch_size=10, max_age_s=0.2, anchor_interval_s=0.2)
    gw = Gateway(cfg, via.sender(consortium.accounts["factory-1"]), SensorBatchRegistry(via), DeviceBindings(consortium.registry))
    bindings_read = gw.bindings.binding(consortium.devices[M1].address)  # read (and cached) while the chain is up
    gw.start()
    store = GatewayStore(cfg.store_path)
    try:
        proxy.stop()  # the chain goes away
        for b in blocks:
            gw.submit_block(b.signed)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and store.counts().get("batches_anchoring", 0) < 5:
            time.sleep(0.05)
        time.sleep(1.5)  # several failed anchoring attempts with backoff
        while_down = store.counts()
        assert while_down.get("batches_anchoring") == 5 and not while_down.get("batches_anchored") and while_down["anchors_pending"] == 1
        assert registry.anchors() == []
        assert gw._threads[1].is_alive()  # the anchor thread backs off, it does not die

        proxy.start()  # the chain is back on the same address
        assert gw.wait_idle(timeout=30)
        after = store.counts()
    finally:
        gw.stop()
        proxy.stop()
    assert bindings_read.allows(M1, blocks[0].min_ts, blocks[-1].max_ts)
    assert after["batches_anchored"] == 5 and after["readings_anchored"] == 50 and after["anchors_anchored"] == 1 and not after.get("anchors_pending")
    assert len(registry.anchors()) == 1  # the one pending root, exactly once
    assert sorted(b.first_seq for b in store.batches(status="anchored")) == [0, 1, 2, 3, 4]


def test_a_device_pipes_signed_json_lines_into_a_gateway(consortium, ctx, tmp_path):
    env = gateway_env(tmp_path / "home", ctx, consortium, {"device-1": consortium.devices[M1], "relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    t0 = readings_t0(consortium)
    lines = [json.dumps({"channel": "temperature", "ts": t0 + i, "value": 40 + i / 4, "unit": "C"}) for i in range(12)]
    lines += [json.dumps({"channel": "vibration", "ts": t0 + 1_000 + i, "value": [0.5, -0.25][i], "unit": "g"}) for i in range(2)]

    readings = tmp_path / "readings.jsonl"
    readings.write_text("\n".join(lines) + "\n")

    with open(readings) as stdin:  # fedpm device run --format jsonl --out - < readings.jsonl | fedpm gateway ingest -
        device = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "device", "run", "--device", "device-1", "--machine", M1, "--format", "jsonl",
                                   "--block", "4", "--out", "-"], env=env, cwd=REPO, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        gateway = subprocess.run([sys.executable, "-m", "fedpm.cli", "gateway", "ingest", "--as", "relayer", "--store", str(store), "--batch-size", "5", "-"],
                                 env=env, cwd=REPO, stdin=device.stdout, capture_output=True, text=True, timeout=120)
        _, device_err = device.communicate(timeout=60)

    assert gateway.returncode == 0, gateway.stderr
    out = json.loads(gateway.stdout)
    assert out["readings_anchored"] == 14 and out["batches_anchored"] == 4 and not any(out["refused"].values())
    assert json.loads(device_err.decode().strip().splitlines()[-1])["blocks"] == 4  # 3 temperature blocks of 4, 1 vibration block of 2
    verified = cli("verify", "batch", "--store", str(store), "--json", env=env)
    assert verified.returncode == 0, verified.stderr
    assert [c["status"] for c in json.loads(verified.stdout)] == ["ok"] * 4


@needs_mosquitto
def test_simulate_commands_publish_what_a_gateway_anchors(consortium, ctx, tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    env = gateway_env(tmp_path / "home", ctx, consortium, {"d1": consortium.devices[M1], "d2": consortium.devices[M2]})
    cfg = GatewayConfig(store_path=tmp_path / "gw.sqlite", batch_size=500, max_age_s=0.3, anchor_interval_s=0.3, mqtt_port=broker.port, client_id="sim-test-gw")
    gw = Gateway(cfg, consortium.sender("factory-1"), SensorBatchRegistry(ctx), DeviceBindings(consortium.registry))
    gw.start()
    gw.connect_mqtt()
    cmapss = tmp_path / "train_tiny.txt"
    cmapss.write_text("".join(f"{u} {c} 0.001 -0.0002 100 " + " ".join(str(500 + u + c + s) for s in range(21)) + "\n" for u in (1, 2) for c in (1, 2, 3)))
    try:
        assert gw.wait_subscribed(30)
        vib = cli("simulate", "vibration", "--machine", f"{M1}=degraded", "--device", f"{M1}=d1", "--seconds", "0.5", "--fs", "2048", "--window", "512",
                  "--host", "127.0.0.1", "--port", str(broker.port), env=env)
        rep = cli("simulate", "cmapss", "--file", str(cmapss), "--engine", f"1={M1}", "--engine", f"2={M2}", "--device", f"{M1}=d1", "--device", f"{M2}=d2",
                  "--block", "2", "--host", "127.0.0.1", "--port", str(broker.port), env=env)
        bad = cli("simulate", "cmapss", "--file", str(cmapss), "--engine", "one=x", "--device", f"{M1}=d1", "--port", str(broker.port), env=env)
        keyless = cli("simulate", "cmapss", "--file", str(cmapss), "--engine", f"2={M2}", "--device", f"{M1}=d1", "--port", str(broker.port), env=env)
        assert vib.returncode == 0, vib.stderr
        assert rep.returncode == 0, rep.stderr
        vib_out, rep_out = json.loads(vib.stdout), json.loads(rep.stdout)
        expected = vib_out["readings"] + rep_out["readings"]
        store = GatewayStore(cfg.store_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and store.counts()["readings_anchored"] < expected:
            gw.request_flush()
            time.sleep(0.2)
        counts = store.counts()
    finally:
        gw.stop()
        broker.stop()

    assert vib_out["all_acknowledged"] and rep_out["all_acknowledged"]
    assert vib_out["readings"] >= 2 * 512 and rep_out["readings"] == 2 * 3 * 24
    assert counts["readings_anchored"] == expected and counts["readings_pending"] == 0
    by_machine = {m: sum(b.count for b in store.batches(machine=m, status="anchored")) for m in (M1, M2)}
    assert by_machine == {M1: vib_out["readings"] + 3 * 24, M2: 3 * 24}
    assert bad.returncode != 0 and "UNIT=MACHINE" in bad.stderr
    assert keyless.returncode != 0 and f"no --device for machine(s) {M2}" in keyless.stderr
    blocks = {m: sum(b.blocks for b in store.batches(machine=m, status="anchored")) for m in (M1, M2)}
    assert blocks[M2] == 24 * 2  # 3 cycles in blocks of 2 per channel: 2 blocks of each of the 24 channels
    assert not any(gw.counters().values())
