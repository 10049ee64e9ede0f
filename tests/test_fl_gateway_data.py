"""Training on gateway data: rows rebuilt only from anchored batches that verify against the chain."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.cmapss_source import CHANNELS, GatewayData
from fedpm.sensors.encoding import encode_frames, iter_frames, parse_signed
from fedpm.sensors.verify import Checker
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from tests.sensor_helpers import fedpm, gateway_env, readings_t0

pytestmark = pytest.mark.usefixtures("snapshot")

M1, M2 = "factory-1-m1", "factory-2-m1"


def engine(cycles: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wear = np.linspace(0, 1, cycles)[:, None]
    return np.round(100 + 10 * wear + rng.normal(0, 0.5, (cycles, len(CHANNELS))), 4)


def checker(consortium) -> Checker:
    return Checker.of(SensorBatchRegistry(consortium.ctx), DeviceBindings(consortium.registry))


def stream(consortium, ctx, tmp_path, data: dict[str, np.ndarray]) -> tuple[dict, object]:
    """Each machine's device signs its engine's rows (`fedpm device run`), the gateway ingests and anchors them."""
    env = gateway_env(tmp_path / "home", ctx, consortium, {"d1": consortium.devices[M1], "d2": consortium.devices[M2], "relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    t0 = readings_t0(consortium)
    for machine, key in ((M1, "d1"), (M2, "d2")):
        if machine not in data:
            continue
        csv_file, blocks = tmp_path / f"{machine}.csv", tmp_path / f"{machine}.bin"
        csv_file.write_text("".join(f"{ch},{t0 + cycle * 1000},{v},-\n" for cycle, row in enumerate(data[machine], 1) for ch, v in zip(CHANNELS, row)))
        signed = fedpm("device", "run", "--device", key, "--machine", machine, "--input", str(csv_file), "--block", "10", "--out", str(blocks), env=env)
        assert signed.returncode == 0, signed.stderr
        done = fedpm("gateway", "ingest", "--as", "relayer", "--store", str(store), "--batch-size", "240", str(blocks), env=env)
        assert done.returncode == 0, done.stderr
    return env, store


def test_trainer_rows_come_from_verified_batches_only(consortium, ctx, tmp_path):
    data = {M1: engine(40, 1), M2: engine(30, 2)}
    env, store = stream(consortium, ctx, tmp_path, data)
    source = GatewayData(store, checker(consortium), (M1, M2))

    engines = source.engines()

    assert engines.units == (1, 2)
    np.testing.assert_allclose(engines.series[0], data[M1])
    np.testing.assert_allclose(engines.series[1], data[M2])
    stats = cmapss.local_stats(engines)
    spec = make_spec(cmapss.normalization_from_stats(stats, cmapss.select_features(stats)), window=10)
    x, y = source.load(spec)
    assert x.shape[1:] == (10, len(spec.params.normalization.features)) and len(x) == len(y) == (40 - 10 + 1) + (30 - 10 + 1)

    lineage = source.lineage()
    assert lineage["kind"] == "fedpm-lineage" and {b["batch"]["machine"] for b in lineage["batches"]} == {M1, M2}
    assert sum(b["batch"]["readings"] for b in lineage["batches"]) == (40 + 30) * len(CHANNELS) and "values" not in str(lineage)

    # Tamper with one stored batch of M1 (a value in its second block): its readings stop counting, its cycles drop out whole.
    db = sqlite3.connect(store)
    (bid, raw) = db.execute("SELECT id, data FROM batches WHERE machine = ? ORDER BY first_seq LIMIT 1 OFFSET 1", (M1,)).fetchone()
    frames = list(iter_frames(raw))
    b = parse_signed(frames[1])
    frames[1] = b.block[:-8] + np.array([b.values()[-1] + 1], dtype=">f8").tobytes() + b.signature
    db.execute("UPDATE batches SET data = ? WHERE id = ?", (encode_frames(frames), bid))
    db.commit()
    db.close()

    assert len(source.engines().series[0]) < 40
    assert len(source.engines().series[1]) == 30
    assert len(source.lineage()["batches"]) == len(lineage["batches"]) - 1


def test_no_gateway_data_is_a_clear_error(consortium, tmp_path):
    from fedpm.sensors.store import GatewayStore

    GatewayStore(tmp_path / "empty.sqlite", create=True).close()
    with pytest.raises(cmapss.CmapssDataError, match="fedpm simulate cmapss"):
        GatewayData(tmp_path / "empty.sqlite", checker(consortium), (M1,)).engines()


def test_an_update_trained_on_gateway_data_carries_its_lineage_and_the_auditor_names_the_machines(consortium, ctx, tmp_path):
    """factory-1 trains on the gateway's anchored data of M1 and M2, factory-2 on a plain file; the round finalizes.
    The committed update hash covers factory-1's lineage; `fedpm audit lineage` lists the machines and fails the model
    because factory-2's update has none; a lineage whose document was swapped fails too."""
    from eth_utils import keccak

    from fl_node.coordinator import publish_task
    from fl_node.modelfile import decode_lineage, encode_weights
    from fl_node.nodes import AggregatorNode, TrainerNode
    from fl_node.rounds import FederatedLearning
    from fl_node.spec import TaskSpec
    from fl_node.storage.local import LocalStore
    from fl_node.trainer import FitResult
    from fedpm.sensors.lineage import audit_model, check_lineage

    env, store = stream(consortium, ctx, tmp_path, {M1: engine(12, 1), M2: engine(12, 2)})
    source = GatewayData(store, checker(consortium), (M1, M2))
    spec = TaskSpec.from_dict({"task": "lineage-test", "train": {"epochs": 1, "batch_size": 32}, "aggregation": {"rule": "fedavg", "params": {}}})
    initial = [("00.w", np.zeros((2, 2), np.float32))]

    class Shift:  # a stand-in for Keras: the lineage does not depend on what the model learns
        def __init__(self, rows: int) -> None:
            self.rows = rows

        def fit(self, parameters, config):
            return FitResult([(n, a + np.float32(self.rows)) for n, a in parameters], self.rows, {"loss": 0.5})

    fl = FederatedLearning(consortium.ctx)
    content = LocalStore(tmp_path / "home" / "store")  # the CLI's content store of that home
    addr = {o: consortium.accounts[o].address for o in ("factory-1", "factory-2", "agg-1", "agg-2", "agg-3")}
    gov = consortium.sender("gov-a")
    task_id = publish_task(fl, gov, content, spec, initial, trainers=[addr["factory-1"], addr["factory-2"]],
                           aggregators=[addr["agg-1"], addr["agg-2"], addr["agg-3"]], rounds=1, min_participants=2, commit_window=600, aggregation_window=600)
    fl.open_round(gov, task_id)
    nodes = [TrainerNode(fl, consortium.sender("factory-1"), content, task_id, tmp_path / "f1", log=lambda _: None,
                         trainer_for=lambda spec: Shift(len(source.engines().series[0])), lineage=source.lineage),
             TrainerNode(fl, consortium.sender("factory-2"), content, task_id, tmp_path / "f2", log=lambda _: None, trainer_for=lambda spec: Shift(3))]
    for node in nodes:
        assert "committed update" in node.step()
    for agg in ("agg-1", "agg-2"):
        AggregatorNode(fl, consortium.sender(agg), content, task_id, tmp_path / agg, log=lambda _: None).step()

    with_lineage = fl.update(task_id, 1, addr["factory-1"])
    blob = content.cat(with_lineage.cid)
    ref = decode_lineage(blob)
    assert keccak(blob) == with_lineage.hash and ref is not None  # the on-chain hash covers the lineage reference
    assert decode_lineage(content.cat(fl.update(task_id, 1, addr["factory-2"]).cid)) is None  # plain-file bytes unchanged
    assert encode_weights([("00.w", np.full((2, 2), 3, np.float32))], spec.to_json()) == content.cat(fl.update(task_id, 1, addr["factory-2"]).cid)
    doc = json.loads(content.cat(ref["cid"]))
    assert {b["batch"]["machine"] for b in doc["batches"]} == {M1, M2} and "values" not in json.dumps(doc)

    report = audit_model(fl, task_id, 1, content, checker(consortium))
    checks = {c.trainer: c for c in report.updates[1]}
    assert checks[addr["factory-1"]].ok and sorted(checks[addr["factory-1"]].machines) == [M1, M2]
    assert checks[addr["factory-1"]].machines[M1]["readings"] == 12 * len(CHANNELS)
    assert not checks[addr["factory-2"]].ok and "plain file" in checks[addr["factory-2"]].detail and not report.ok

    swapped = json.loads(json.dumps(doc))
    swapped["batches"] = swapped["batches"][:1]  # claims fewer batches than the root covers
    assert "root" in check_lineage("x", swapped, checker(consortium)).detail
    unanchored = json.loads(json.dumps(doc))
    unanchored["batches"][0]["anchor"]["block"] += 1
    assert "not in an anchored root" in check_lineage("x", unanchored, checker(consortium)).detail

    audited = fedpm("audit", "lineage", "--task", str(task_id), env=env)
    assert audited.returncode == 2, audited.stderr
    assert f"machines: {M1}, {M2}" in audited.stdout and "NOT only device-signed" in audited.stdout
    assert f"{addr['factory-2']}: no lineage" in audited.stderr
