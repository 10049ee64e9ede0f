"""Attacks on sensor data signed at the source (issue 12): neither anyone on the broker nor the gateway itself can
produce a reading that verifies. Performed for real: an attacker on a real mosquitto publishes unsigned, altered,
impersonating, unbound, replayed, withheld and revoked-device blocks into a real gateway; a gateway operator alters
a stored value, injects a block and replays one, re-anchors its doctored batches on a real anvil (it is a member and
may anchor), and every check (`verify batch`, the reading proof, the contract's `verifyBlock`) refuses them."""

from __future__ import annotations

import dataclasses
import json
import threading

import paho.mqtt.client as mqtt
import pytest

from fedpm.sensors.anchoring import Anchor, anchor_root, batch_proofs
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.encoding import encode_block, encode_frames, iter_frames, parse_signed
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.merkle import block_leaf, keccak256, levels, prove_from_levels, root_of_leaves
from fedpm.sensors.signing import BlockSigner
from fedpm.sensors.store import GatewayStore
from fedpm.sensors.verify import Checker, check_batches, check_reading_proof, reading_proof
from tests.conftest import dev_key
from tests.sensor_helpers import Mosquitto, fedpm, gateway_env, needs_mosquitto, readings_t0, sign_blocks, store_anchored, wait_for

pytestmark = pytest.mark.usefixtures("snapshot")
M1, M2 = "factory-1-m1", "factory-2-m1"


def checker(consortium) -> Checker:
    return Checker.of(SensorBatchRegistry(consortium.ctx), DeviceBindings(consortium.registry, ttl_s=0))


@needs_mosquitto
def test_nobody_on_the_broker_gets_a_block_past_the_gateway(consortium, tmp_path):
    registry = SensorBatchRegistry(consortium.ctx)
    dom = registry.signing_domain()
    attacker_key = dev_key("broker-attacker")
    t0 = readings_t0(consortium)
    genuine = sign_blocks(consortium.devices[M1], M1, dom, range(10), readings=5, t0=t0)
    m2_blocks = sign_blocks(consortium.devices[M2], M2, dom, range(2), readings=5, t0=t0)
    broker = Mosquitto(tmp_path / "broker").start()
    cfg = GatewayConfig(store_path=tmp_path / "gw.sqlite", batch_size=20, max_age_s=0.3, anchor_interval_s=0.3, mqtt_port=broker.port, client_id="attacked-gw")
    gw = Gateway(cfg, consortium.sender("factory-1"), registry, DeviceBindings(consortium.registry, ttl_s=0))
    wire = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="on-the-broker", protocol=mqtt.MQTTv311)
    sent = threading.Event()
    wire.on_publish = lambda *a: sent.set()
    wire.connect("127.0.0.1", broker.port)
    wire.loop_start()

    def publish(machine: str, payload: bytes, channel: str = "vibration") -> None:
        wire.publish(f"fedpm/{machine}/{channel}", payload, qos=1).wait_for_publish(10)

    def forge(values, seq: int, signer, device: str) -> bytes:
        raw = encode_block(device, M1, seq, "vibration", "g", [t0 + 9_000 + i for i in range(len(values))], values)
        return raw + BlockSigner.of(signer, dom).sign(raw)

    gw.start()
    gw.connect_mqtt()
    try:
        assert gw.wait_subscribed(30)
        for b in genuine[:5] + genuine[6:]:  # the device's blocks; block 5 is held back by someone on the path
            publish(M1, b.signed)
        assert wait_for(lambda: GatewayStore(cfg.store_path).watermarks().get(genuine[0].device, -1) >= 6, 30)  # 6..9 batched
        b3 = genuine[3]
        altered = b3.block[:-8] + (b3.block[-8] ^ 0x01).to_bytes(1, "big") + b3.block[-7:] + b3.signature
        attacks = {
            "unsigned": [json.dumps({"ts": [t0], "values": [42.0], "unit": "g"}).encode()],
            "forged": [altered,  # a value changed, the device's signature kept
                       forge([42.0], 10, attacker_key, consortium.devices[M1].address)],  # made up, claims to be the device
            "unbound": [forge([42.0], 0, attacker_key, attacker_key.address)],  # signed by a key the manufacturer never bound
            "replayed": [genuine[2].signed],  # a genuine block again
            "out_of_sequence": [genuine[5].signed],  # the withheld genuine block, after its successors were batched
        }
        for reason, payloads in attacks.items():
            for payload in payloads:
                publish(M1, payload)
        consortium.registry.revoke_device(consortium.sender("maker"), consortium.devices[M2].address)  # by its manufacturer
        publish(M2, m2_blocks[0].signed)  # a revoked device's genuine block
        publish(M2, m2_blocks[1].signed, channel="current")  # under another channel's topic
        expected = {r: len(p) for r, p in attacks.items()} | {"unbound": 2, "malformed": 1}
        assert wait_for(lambda: gw.counters() == expected, 30), gw.counters()
        gw.request_flush()
        assert gw.wait_idle(30)
    finally:
        wire.loop_stop()
        wire.disconnect()
        gw.stop()
        broker.stop()

    store = GatewayStore(cfg.store_path)
    assert store.refusals() == expected  # persisted for `fedpm gateway status`
    anchored = [r for b in store.batches(status="anchored") for f in iter_frames(b.data) for r in parse_signed(f).readings()]
    assert sorted(anchored) == sorted(r for b in genuine[:5] + genuine[6:] for r in b.readings())  # exactly the device's readings
    assert all(c.ok for c in check_batches(store, list(store.batches()), checker(consortium)))
    assert [(g.first, g.last) for g in store.gaps(M1)] == [(5, 5)]  # the withheld block is refused and reported missing by its seq


def test_a_gateway_cannot_make_a_reading_that_verifies(consortium, ctx, tmp_path):
    registry = SensorBatchRegistry(consortium.ctx)
    dom = registry.signing_domain()
    operator = consortium.sender("factory-1")  # the gateway's account: a member, so it may anchor whatever it likes
    store = GatewayStore(tmp_path / "gw.sqlite", create=True)
    t0 = readings_t0(consortium)
    genuine = [sign_blocks(consortium.devices[M1], M1, dom, range(4 * k, 4 * k + 4), t0=t0) for k in range(2)]
    store_anchored(store, registry, operator, genuine)
    chk = checker(consortium)
    honest = reading_proof(store, store.batch_of_block(M1, 1), 1, 2, chk)
    assert check_reading_proof(honest, chk).ok and all(c.ok for c in check_batches(store, list(store.batches()), chk))
    own_key = dev_key("gateway-own-key")

    def doctored_anchor(blocks) -> dict:
        """The gateway batches `blocks` as it likes, anchors a fresh root over the batch, and proves the reading it wants."""
        leaves = [block_leaf(keccak256(b.block), b.signature) for b in blocks]
        summary = dataclasses.replace(store.batch_of_block(M1, 0).summary, first_seq=blocks[0].seq, last_seq=blocks[-1].seq, blocks=len(blocks),
                                      readings=sum(b.n for b in blocks), root=root_of_leaves(leaves), device=blocks[0].device)
        root = anchor_root([summary])
        rcpt = registry.anchor_root(operator, root)  # the chain takes it: anchoring is not what makes data true
        anchor = Anchor.of(root, operator.address, rcpt.block_number, rcpt.tx_hash)
        assert registry.is_anchored(anchor)
        return {"reading": {**blocks[1].readings()[0]._asdict(), "ts": blocks[1].readings()[0].ts_ms, "index": 0},
                "block": {"data": "0x" + blocks[1].block.hex(), "signature": "0x" + blocks[1].signature.hex(),
                          "proof": prove_from_levels(levels(leaves), 1).to_json()},
                "batch": summary.to_json(), "batch_proof": batch_proofs([summary])[0].to_json(), "anchor": anchor.to_json()}

    def refused(proof: dict) -> None:
        result = check_reading_proof(proof, chk)
        assert not result.ok and not result.origin_ok, result
        assert result.chain_ok is False  # the contract's verifyBlock refuses it too

    # 1. alter a value, keep the device's signature, recompute every hash and anchor it
    b1 = genuine[0][1]
    altered_raw = b1.block[:-8] + (b1.block[-8] ^ 0x01).to_bytes(1, "big") + b1.block[-7:]
    altered = parse_signed(altered_raw + b1.signature)
    refused(doctored_anchor([genuine[0][0], altered, *genuine[0][2:]]))

    # 2. inject a block it made up, signed with its own key in the device's name, and anchor it
    raw = encode_block(b1.device, M1, 1, "vibration", "g", [t0 + 1], [123.0])
    refused(doctored_anchor([genuine[0][0], parse_signed(raw + BlockSigner.of(own_key, dom).sign(raw))]))

    # 3. sign blocks with its own key as the "device": the signatures hold, but no manufacturer bound that key to the machine
    refused(doctored_anchor(sign_blocks(own_key, M1, dom, [0, 1], t0=t0)))

    # 4. alter the stored copy: `verify batch` names the batch and the block
    bid, data = store.db.execute("SELECT id, data FROM batches WHERE first_seq = 4").fetchone()
    frames = list(iter_frames(data))
    b = parse_signed(frames[2])
    frames[2] = b.block[:-8] + (b.block[-8] ^ 0x01).to_bytes(1, "big") + b.block[-7:] + b.signature
    store.db.execute("UPDATE batches SET data = ? WHERE id = ?", (encode_frames(frames), bid))
    env = gateway_env(tmp_path / "home", ctx, consortium, {})
    out = fedpm("verify", "batch", "--store", str(store.path), env=env)
    assert out.returncode == 2 and f"{M1} seq 4..7 forged at block position 2" in out.stderr, out.stderr

    # 5. replay genuine blocks in a batch of their own, anchored: each block is genuine, the batch is a replay
    fresh = GatewayStore(tmp_path / "replayed.sqlite", create=True)
    store_anchored(fresh, registry, operator, [genuine[0]])
    replay = genuine[0][1:3]
    fresh.db.execute("DELETE FROM blocks")  # the operator forgets it received them, to batch them again
    store_anchored(fresh, registry, operator, [replay])
    checks = check_batches(fresh, list(fresh.batches()), chk)
    assert [c.status for c in checks] == ["ok", "replayed"] and "overlap" in checks[1].detail
    out = fedpm("verify", "batch", "--store", str(fresh.path), env=env)
    assert out.returncode == 2 and "replayed" in out.stderr
