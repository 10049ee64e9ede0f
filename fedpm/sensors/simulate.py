"""Sensor simulators publishing over MQTT: bearing vibration/temperature/current streams, and a C-MAPSS replayer.

Signals come from `tasks.bearing.vibration.simulate_window` (bearing with BPFO/BPFI defect impulses per health state
healthy/degraded/critical/failure, temperature, motor current). Each window becomes one block message per
channel on `<root>/<machine>/<channel>`: {"ts": [...], "values": [...], "unit": ...} with millisecond
timestamps (several vibration samples share a millisecond at kHz rates; the Merkle leaf index keeps them apart).
The `Publisher` stamps every block with `"src"` (its client id) and `"seq"`, its per-machine sequence number
(see `fedpm.sensors.ingest`), so the gateway can report any block that never reached it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import paho.mqtt.client as mqtt

from ground.errors import FedpmError
from ground.files import atomic_write
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


def cmapss_messages(path: Path, machines: dict[int, str], t0_ms: int, cycle_ms: int = 1000, max_cycles: int | None = None) -> Iterator[tuple[str, str, dict]]:
    """(machine, channel, payload) per engine cycle and column: one engine (unit) per machine, in cycle order."""
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


class SeqCounter:
    """A publisher's next sequence number per machine, kept in a JSON file (when given) across restarts.

    The file is replaced atomically BEFORE the block goes out: a crash of the publisher can skip a seq (the gateway
    then reports it missing), never reuse one. It is not fsynced (one write per block; bench/sensor_anchoring.py
    measures it), so after a power loss of the publisher's host give it a new --client-id. Without a file the
    numbers start at 0: give each run its own publisher id."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.next: dict[str, int] = {}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError):
                loaded = None
            if not isinstance(loaded, dict) or not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in loaded.items()):
                raise FedpmError(f"sequence file {path} is corrupt", hint="restore it from a backup; deleting it restarts the publisher's sequence numbers at 0 (use another --client-id then)")
            self.next = loaded

    def take(self, machine: str) -> int:
        seq = self.next.get(machine, 0)
        self.next[machine] = seq + 1
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.next), sync=False)  # once per block: no fsync on this hot path
        return seq


class Publisher:
    """A QoS 1 MQTT publisher that keeps unacknowledged messages across broker restarts (persistent session) and
    stamps each block with its id (`src`) and a per-machine `seq` (kept in `seq_file` across restarts)."""

    def __init__(self, host: str, port: int, client_id: str = "fedpm-simulator", topic_root: str = "fedpm", seq_file: Path | None = None) -> None:
        self.topic_root = topic_root
        self.src = client_id
        self.seqs = SeqCounter(seq_file)
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
        """Publish one block (or reading) stamped with src and the machine's next seq; returns that seq."""
        seq = self.seqs.take(machine)
        body = json.dumps({**payload, "src": self.src, "seq": seq}, separators=(",", ":"))
        # QoS 1 with a persistent session: while the broker is down paho keeps the message and sends it on reconnect
        info = self.client.publish(f"{self.topic_root}/{machine}/{channel}", body, qos=1)
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._pending.add(info.mid)
        self.sent += len(payload["values"]) if "values" in payload else 1
        return seq

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
