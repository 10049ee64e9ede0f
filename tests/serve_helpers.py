"""Helpers of the prediction service tests: a small RUL task whose model reads wear off one sensor, finalized rounds on
a real anvil, and a replayed engine streamed through a real in-process gateway into its store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eth_utils import keccak

from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.cmapss_source import EngineReplay
from fedpm.sensors.device import Device
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.store import GatewayStore
from fl_node.coordinator import publish_task
from fl_node.modelfile import encode_weights
from fl_node.nodes import AggregatorNode, NodeEvents
from fl_node.rounds import FederatedLearning, RoundState
from fl_node.storage.local import LocalStore
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from tasks.rul.spec import RulSpec
from tests.sensor_helpers import key_window_ms

WINDOW = 10
LIFE = 60  # cycles of the synthetic engine
TRAINERS = ["factory-1", "factory-2", "factory-3"]
AGGREGATORS = ["agg-1", "agg-2", "agg-3"]


def engine(life: int = LIFE, seed: int = 0) -> np.ndarray:
    """[life, 24] raw cycles: s2 (wear) rises linearly from 0 to 1 over the life; the rest is noise around 100."""
    rng = np.random.default_rng(seed)
    rows = np.round(100 + rng.normal(0, 0.5, (life, len(cmapss.FEATURE_COLUMNS))), 4)
    rows[:, cmapss.FEATURE_COLUMNS.index("s2")] = np.arange(1, life + 1) / life
    return rows


def spec() -> RulSpec:
    """A one-filter 1D-CNN over (s2, s3): RUL = 125 * (bias - a * s2 at the last cycle), with weights set by `wear_model`."""
    norm = cmapss.Normalization(("s2", "s3"), "minmax", (0.0, 90.0), (1.0, 20.0))
    return make_spec(norm, window=WINDOW, model={"kind": "cnn1d", "filters": [1], "kernel": 1, "dense": 0, "dropout": 0.0, "l2": 0.0}, train={"epochs": 1, "batch_size": 8})


def wear_model(bias: float, slope: float = 1.0) -> list[tuple[str, np.ndarray]]:
    """Predicted RUL = 125 * (bias - slope * normalized s2 of the window's last cycle): falls as the engine wears."""
    return [("00.conv1d.kernel", np.array([[[1.0], [0.0]]], np.float32)), ("00.conv1d.bias", np.zeros((1,), np.float32)),
            ("01.dense.kernel", np.array([[0.0]] * (WINDOW - 1) + [[-slope]], np.float32)), ("01.dense.bias", np.array([bias], np.float32))]


def expected_rul(cycle: int, bias: float, slope: float = 1.0, life: int = LIFE) -> float:
    """What `wear_model` predicts when the window ends at 1-based `cycle`."""
    return max(0.0, 125.0 * (bias - slope * cycle / life))


@dataclass
class FlEnv:
    fl: FederatedLearning
    store: LocalStore
    consortium: object
    task_id: int
    workdir: Path

    def finalize(self, bias: float, events: NodeEvents | None = None) -> int:
        """One round whose every update (so the aggregate too) is `wear_model(bias)`; returns the round. The first
        aggregator reports to `events`, when given."""
        c = self.consortium
        r = self.fl.open_round(c.sender("gov-a"), self.task_id)
        blob = encode_weights(wear_model(bias), spec().to_json())
        cid = self.store.add(blob)
        for org in TRAINERS:
            self.fl.commit(c.sender(org), self.task_id, r, keccak(blob), cid, 10 + TRAINERS.index(org), 0.25 + TRAINERS.index(org) / 100)
        nodes = [AggregatorNode(self.fl, c.sender(org), self.store, self.task_id, self.workdir / org, log=lambda _: None, retries=1,
                                events=events if org == AGGREGATORS[0] else None) for org in AGGREGATORS]
        for node in nodes:
            node.step()
        nodes[0].report()
        assert self.fl.round(self.task_id, r).state == RoundState.FINALIZED
        return r


def fl_env(consortium, store_dir: Path, workdir: Path, rounds: int = 5) -> FlEnv:
    fl = FederatedLearning(consortium.ctx)
    store = LocalStore(store_dir)
    addr = {o: consortium.accounts[o].address for o in TRAINERS + AGGREGATORS}
    task_id = publish_task(fl, consortium.sender("gov-a"), store, spec(), wear_model(0.6), trainers=[addr[t] for t in TRAINERS],
                           aggregators=[addr[a] for a in AGGREGATORS], rounds=rounds, min_participants=3)
    return FlEnv(fl, store, consortium, task_id, workdir)


class LiveMachine:
    """A replayed engine signed by the machine's device key (bound by its maker at bootstrap) and streamed into a real
    gateway (in process, no broker) that anchors on anvil. Cycles are stamped (by default) between the key's bind time
    and now: inside the key's window and in the past (a maintenance record answers them later), whenever the test runs."""

    def __init__(self, consortium, store_path: Path, machine: str = "factory-1-m1", rows: np.ndarray | None = None, t0_ms: int | None = None) -> None:
        ctx = consortium.ctx
        registry = SensorBatchRegistry(ctx)
        cfg = GatewayConfig(store_path=store_path, batch_size=10**6, max_age_s=3600)
        self.gateway = Gateway(cfg, consortium.sender("factory-1"), registry, DeviceBindings(consortium.registry, ttl_s=0))
        self.gateway.start()
        device = Device.of(machine, consortium.devices[machine], registry.signing_domain())
        rows = engine() if rows is None else rows
        self.replay = EngineReplay(device, rows, t0_ms) if t0_ms is not None else EngineReplay.in_past(device, rows, *key_window_ms(consortium, device.address))
        self.store_path = store_path
        self.sent = 0  # readings handed to the gateway (one per block)

    def stream(self, cycles: int, skip: set[int] | None = None) -> None:
        """The next `cycles` cycles, closed into one batch and anchored before returning."""
        blocks = self.replay.blocks(cycles, skip)
        for signed in blocks:
            self.gateway.submit_block(signed)
        self.sent += len(blocks)
        self.gateway.request_flush()
        st = GatewayStore(self.store_path)
        try:
            deadline = time.monotonic() + 60
            while st.counts().get("readings_anchored", 0) < self.sent and time.monotonic() < deadline:
                time.sleep(0.05)
            assert st.counts().get("readings_anchored", 0) == self.sent, (st.counts(), self.gateway.errors)
        finally:
            st.close()

    def stop(self) -> None:
        self.gateway.stop()
