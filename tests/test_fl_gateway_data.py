"""Training on gateway data: rows rebuilt only from anchored batches that verify against the chain."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.cmapss_source import CHANNELS, GatewayData
from fedpm.sensors.encoding import encode_frames, iter_frames, parse_signed
from fedpm.sensors.verify import Checker
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from tests.sensor_helpers import fedpm, gateway_env

pytestmark = pytest.mark.usefixtures("snapshot")

M1, M2 = "factory-1-m1", "factory-2-m1"
T0 = 1_700_000_000_000


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
    for machine, key in ((M1, "d1"), (M2, "d2")):
        if machine not in data:
            continue
        csv_file, blocks = tmp_path / f"{machine}.csv", tmp_path / f"{machine}.bin"
        csv_file.write_text("".join(f"{ch},{T0 + cycle * 1000},{v},-\n" for cycle, row in enumerate(data[machine], 1) for ch, v in zip(CHANNELS, row)))
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
    assert x.shape[1:] == (10, len(spec["normalization"]["features"])) and len(x) == len(y) == (40 - 10 + 1) + (30 - 10 + 1)

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

    GatewayStore(tmp_path / "empty.sqlite").close()
    with pytest.raises(cmapss.CmapssDataError, match="fedpm simulate cmapss"):
        GatewayData(tmp_path / "empty.sqlite", checker(consortium), (M1,)).engines()
