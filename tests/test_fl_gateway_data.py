"""Training on gateway data: rows rebuilt only from anchored batches that verify against the chain."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.encoding import decode_batch, encode_batch
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from fedpm.sensors.cmapss_source import CHANNELS, GatewayData
from tests.sensor_helpers import fedpm, gateway_env

pytestmark = pytest.mark.usefixtures("snapshot")

M1, M2 = "factory-1-m1", "factory-2-m1"
T0 = 1_700_000_000_000


def engine(cycles: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wear = np.linspace(0, 1, cycles)[:, None]
    return np.round(100 + 10 * wear + rng.normal(0, 0.5, (cycles, len(CHANNELS))), 4)


def test_trainer_rows_come_from_verified_batches_only(consortium, ctx, tmp_path):
    data = {M1: engine(40, 1), M2: engine(30, 2)}
    lines = ["machine,channel,ts_ms,value,unit"]
    for machine, table in data.items():
        for cycle, row in enumerate(table, 1):
            lines += [f"{machine},{ch},{T0 + cycle * 1000},{v},-" for ch, v in zip(CHANNELS, row)]
    csv_file = tmp_path / "replay.csv"
    csv_file.write_text("\n".join(lines) + "\n")
    env = gateway_env(tmp_path / "home", ctx, consortium, {"d1": consortium.devices[M1], "d2": consortium.devices[M2], "relayer": consortium.accounts["factory-1"]})
    store = tmp_path / "gw.sqlite"
    done = fedpm("gateway", "csv", "--as", "relayer", "--device", f"{M1}=d1", "--device", f"{M2}=d2", "--store", str(store), "--batch-size", "240", str(csv_file), env=env)
    assert done.returncode == 0, done.stderr
    source = GatewayData(store, SensorBatchRegistry(consortium.ctx), (M1, M2))

    engines = source.engines()

    assert engines.units == (1, 2)
    np.testing.assert_allclose(engines.series[0], data[M1])
    np.testing.assert_allclose(engines.series[1], data[M2])
    stats = cmapss.local_stats(engines)
    spec = make_spec(cmapss.normalization_from_stats(stats, cmapss.select_features(stats)), window=10)
    x, y = source.load(spec)
    assert x.shape[1:] == (10, len(spec.params.normalization.features)) and len(x) == len(y) == (40 - 10 + 1) + (30 - 10 + 1)

    # Tamper with one stored batch of M1: its readings stop counting, so its cycles drop out whole.
    db = sqlite3.connect(store)
    (bid, raw) = db.execute("SELECT id, data FROM batches WHERE machine = ? ORDER BY seq LIMIT 1 OFFSET 1", (M1,)).fetchone()
    readings = decode_batch(raw)
    readings[0] = readings[0]._replace(value=readings[0].value + 1)
    db.execute("UPDATE batches SET data = ? WHERE id = ?", (encode_batch(readings), bid))
    db.commit()
    db.close()

    assert len(source.engines().series[0]) < 40
    assert len(source.engines().series[1]) == 30


def test_no_gateway_data_is_a_clear_error(consortium, tmp_path):
    from fedpm.sensors.store import GatewayStore

    GatewayStore(tmp_path / "empty.sqlite", create=True).close()
    with pytest.raises(cmapss.CmapssDataError, match="fedpm simulate cmapss"):
        GatewayData(tmp_path / "empty.sqlite", SensorBatchRegistry(consortium.ctx), (M1,)).engines()
