"""Simulated devices publishing signed blocks over MQTT: bearing vibration/temperature/current streams, and a
C-MAPSS replayer.

Signals come from `tasks.bearing.vibration.simulate_window` (bearing with BPFO/BPFI defect impulses per health state
healthy/degraded/critical/failure, temperature, motor current). Each window becomes one block per channel, signed
at the source by the machine's device key (`fedpm.sensors.device.Device`) with the device's next seq and published
on `<root>/<machine>/<channel>`, with millisecond timestamps (several vibration samples share a millisecond at kHz
rates; the position in the block keeps them apart). The C-MAPSS replayer groups `block` cycles of each channel.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import paho.mqtt.client as mqtt

from fedpm.sensors.device import Blocker, Device
from tasks.bearing.vibration import simulate_window
from tasks.rul.cmapss import COLUMNS

UNITS = {"vibration": "g", "temperature": "C", "current": "A"}


def window_messages(machine: str, state: str, rng: np.random.Generator, t0_ms: int, fs: float, n: int) -> Iterator[tuple[str, dict]]:
    """(channel, payload) of one simulated window starting at t0_ms."""
    signals = simulate_window(state, rng, fs, n)
    duration_ms = n / fs * 1000.0
    for channel, values in signals.items():
        k = len(values)
        ts = (t0_ms + np.floor(np.arange(k) * (duration_ms / k))).astype(np.int64).tolist()
        yield channel, {"ts": ts, "values": [round(float(v), 6) for v in values], "unit": UNITS.get(channel, "")}


def cmapss_readings(path: Path, machines: dict[int, str], t0_ms: int, cycle_ms: int = 1000, max_cycles: int | None = None) -> Iterator[tuple[str, str, dict]]:
    """(machine, channel, reading) per engine cycle and column: one engine (unit) per machine, in cycle order."""
    rows: dict[int, list[list[float]]] = {}
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            unit = int(parts[0])
            if unit in machines:
                rows.setdefault(unit, []).append([float(p) for p in parts])
    depth = max((len(r) for r in rows.values()), default=0)
    for i in range(depth if max_cycles is None else min(depth, max_cycles)):
        for unit, table in rows.items():
            if i < len(table):
                row = table[i]
                for name, payload in cycle_payloads(row[2:], t0_ms + int(row[1]) * cycle_ms):
                    yield machines[unit], name, payload


def cycle_payloads(values: Sequence[float], ts: int) -> Iterator[tuple[str, dict]]:
    """One C-MAPSS cycle (3 settings, 21 sensors, in file order) as one reading per channel, all stamped `ts`."""
    for name, value in zip(COLUMNS[2:], values, strict=True):
        yield name, {"ts": int(ts), "value": float(value), "unit": ""}


class Publisher:
    """A QoS 1 MQTT publisher that keeps unacknowledged messages across broker restarts (persistent session) and
    publishes each block signed by its machine's device (`devices`: machine -> Device)."""

    def __init__(self, host: str, port: int, client_id: str = "fedpm-simulator", topic_root: str = "fedpm", devices: dict[str, Device] | None = None) -> None:
        self.topic_root = topic_root
        self.devices = devices or {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        self._connected = threading.Event()
        self.client.on_connect = lambda c, u, f, r, p: self._connected.set() if not r.is_failure else None
        self.client.on_disconnect = lambda c, u, f, r, p: self._connected.clear()
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._early: set[int] = set()  # acknowledged before publish() recorded the mid
        self.client.on_publish = self._on_publish
        self.client.connect_async(host, port, keepalive=10)
        self.client.loop_start()
        self.sent = 0

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early.add(mid)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self._connected.wait(timeout)

    def publish(self, machine: str, channel: str, payload: dict) -> int:
        """Sign one block ({"ts": [...], "values": [...], "unit"}) with the machine's device and publish it; returns its seq."""
        device = self.devices.get(machine)
        if device is None:
            raise KeyError(f"no device key for machine {machine!r}")
        seq, signed = device.sign(channel, payload.get("unit", ""), payload["ts"], payload["values"])
        self.publish_signed(machine, channel, signed)
        self.sent += len(payload["values"])
        return seq

    def publish_signed(self, machine: str, channel: str, signed: bytes) -> None:
        """Publish one signed block as it is (the device signed it; this only carries it)."""
        # QoS 1 with a persistent session: while the broker is down paho keeps the message and sends it on reconnect
        info = self.client.publish(f"{self.topic_root}/{machine}/{channel}", signed, qos=1)
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._pending.add(info.mid)

    def wait_published(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        for device in self.devices.values():
            device.close()


def run_vibration(pub: Publisher, machines: dict[str, str], seconds: float, *, fs: float = 4096.0, window: int = 1024, seed: int = 0, realtime: bool = True) -> int:
    """Publish windows for each machine (machine -> health state) for `seconds` of signal; returns readings sent."""
    rng = np.random.default_rng(seed)
    t_ms = int(time.time() * 1000)
    step_ms = int(window / fs * 1000)
    start = time.monotonic()
    elapsed = 0.0
    while elapsed < seconds:
        for machine, state in machines.items():
            for channel, payload in window_messages(machine, state, rng, t_ms, fs, window):
                pub.publish(machine, channel, payload)
        t_ms += step_ms
        elapsed += step_ms / 1000.0
        if realtime:
            ahead = elapsed - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    return pub.sent


def run_cmapss(pub: Publisher, path: Path, machines: dict[int, str], t0_ms: int, *, cycle_ms: int = 1000, max_cycles: int | None = None,
               rate: float = 0.0, block: int = 10) -> int:
    """Replay C-MAPSS rows, engine UNIT as machines[UNIT]: each channel's readings go out in blocks of `block` cycles,
    signed by the machine's device (`rate`: cycles per second, 0 as fast as possible). Returns readings sent."""
    blockers = {m: Blocker(block) for m in machines.values()}
    last_ts = None
    for machine, channel, r in cmapss_readings(path, machines, t0_ms, cycle_ms, max_cycles):
        if rate and last_ts is not None and r["ts"] != last_ts:
            time.sleep(1.0 / rate)
        last_ts = r["ts"]
        for ch, unit, ts, values in blockers[machine].add(channel, r["unit"], r["ts"], r["value"]):
            pub.publish(machine, ch, {"ts": ts, "values": values, "unit": unit})
    for machine, blocker in blockers.items():
        for ch, unit, ts, values in blocker.flush():
            pub.publish(machine, ch, {"ts": ts, "values": values, "unit": unit})
    return pub.sent
