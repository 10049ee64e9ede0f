"""Simulated rolling-bearing signals per health state (pure numpy, seeded).

An outer-race (inner-race) defect is struck by each passing ball, giving impulses at the ball-pass frequency
BPFO (BPFI). Each impulse rings a structural resonance and decays; inner-race impulses are amplitude-modulated
at shaft speed because the defect rotates through the load zone. Degradation grows the impulse amplitude,
random slip jitter, broadband noise, temperature and motor current. Used by the state classifier and by the
MQTT sensor simulator: `simulate_window(state, rng, fs, n, bearing)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

STATES = ("healthy", "degraded", "critical", "failure")


@dataclass(frozen=True)
class Bearing:
    """Geometry and operating point. Defaults: SKF 6205-2RS deep-groove ball bearing at 1797 rpm (CWRU test rig)."""

    n_balls: int = 9
    ball_diameter_mm: float = 7.94
    pitch_diameter_mm: float = 39.04
    contact_angle_deg: float = 0.0
    shaft_hz: float = 1797 / 60
    resonance_hz: float = 3000.0

    def _ratio(self) -> float:
        return self.ball_diameter_mm / self.pitch_diameter_mm * math.cos(math.radians(self.contact_angle_deg))

    @property
    def bpfo(self) -> float:
        """Ball-pass frequency, outer race: n/2 * f_shaft * (1 - d/D cos a)."""
        return self.n_balls / 2 * self.shaft_hz * (1 - self._ratio())

    @property
    def bpfi(self) -> float:
        """Ball-pass frequency, inner race: n/2 * f_shaft * (1 + d/D cos a)."""
        return self.n_balls / 2 * self.shaft_hz * (1 + self._ratio())


@dataclass(frozen=True)
class Condition:
    """A machine's operating point; factories run the same bearing differently. The default is the CWRU rig's.

    Defect impacts grow with speed and load; load also raises the temperature above ambient and the motor current;
    the background vibration (neighbouring machines, the floor) and the structural resonance the impacts ring
    differ from site to site. Known to the machine's controller, so the classifier gets speed and load as inputs."""

    rpm: float = 1797.0
    load: float = 1.0  # fraction of rated load
    noise: float = 1.0  # background vibration, times the reference site's
    ambient_c: float = 0.0  # ambient temperature above the reference site's
    resonance_hz: float = 3000.0

    def bearing(self) -> Bearing:
        return Bearing(shaft_hz=self.rpm / 60, resonance_hz=self.resonance_hz)


# Per state: defect impulse amplitude (g), noise (g), slip jitter (fraction of period), temperature (C), current (A)
_PROFILE = {
    "healthy": dict(impulse=0.0, noise=0.05, jitter=0.0, temp=45.0, current=10.0),
    "degraded": dict(impulse=0.25, noise=0.07, jitter=0.01, temp=52.0, current=10.6),
    "critical": dict(impulse=0.9, noise=0.12, jitter=0.02, temp=63.0, current=11.5),
    "failure": dict(impulse=2.5, noise=0.3, jitter=0.04, temp=78.0, current=13.0),
}


def _impulse_train(rate_hz: float, amp: float, jitter: float, t: np.ndarray, fs: float, bearing: Bearing, rng: np.random.Generator, modulate_hz: float = 0.0) -> np.ndarray:
    n = len(t)
    out = np.zeros(n)
    if amp <= 0:
        return out
    period = 1.0 / rate_hz
    times = np.arange(rng.uniform(0, period), t[-1] + period, period)
    times = times + rng.normal(0, jitter * period, len(times))  # ball slip: impulses are not perfectly periodic
    ring_len = min(n, int(fs * 0.004) + 1)  # ~4 ms of ringing
    tau = np.arange(ring_len) / fs
    ring = np.exp(-tau * 900.0) * np.sin(2 * np.pi * bearing.resonance_hz * tau)
    for ti in times:
        k = int(round(ti * fs))
        if 0 <= k < n:
            a = amp * (1 + 0.5 * math.cos(2 * math.pi * modulate_hz * ti)) if modulate_hz else amp
            end = min(n, k + ring_len)
            out[k:end] += a * ring[: end - k]
    return out


def simulate_window(state: str, rng: np.random.Generator, fs: float = 12_000.0, n: int = 4096, bearing: Bearing | None = None,
                    condition: Condition | None = None) -> dict[str, np.ndarray]:
    """One window of signals for a health state at an operating `condition` (default: the reference rig; its bearing
    unless `bearing` is given).

    Returns {"vibration": float32 [n] acceleration in g at `fs`, "temperature": float32 [n//256 or 1] in C,
    "current": float32 [n] motor phase current in A (50 Hz line + load-dependent sidebands)}."""
    if state not in _PROFILE:
        raise ValueError(f"unknown state {state!r}; expected one of {STATES}")
    c = condition or Condition()
    bearing = bearing or c.bearing()
    p = _PROFILE[state]
    impact = c.load * c.rpm / Condition.rpm  # 1.0 at the reference point: the reference signals are unchanged
    t = np.arange(n) / fs
    shaft = 0.04 * np.sin(2 * np.pi * bearing.shaft_hz * t + rng.uniform(0, 2 * np.pi))  # residual unbalance
    severity = STATES.index(state)
    vib = shaft + rng.normal(0, p["noise"] * c.noise, n)
    vib += _impulse_train(bearing.bpfo, p["impulse"] * impact, p["jitter"], t, fs, bearing, rng)
    if severity >= 2:  # the damage spreads to the inner race late in life
        vib += _impulse_train(bearing.bpfi, 0.5 * p["impulse"] * impact, p["jitter"], t, fs, bearing, rng, modulate_hz=bearing.shaft_hz)
    vib *= rng.uniform(0.9, 1.1)  # sensor mounting / load variation between machines
    n_temp = max(1, n // 256)
    temp_c = p["temp"] + c.ambient_c + (p["temp"] - 30.0) * (c.load - 1.0)  # the rise above a 30 C floor grows with load
    temp = temp_c + rng.normal(0, 0.8, n_temp) + np.linspace(0, 0.3 * severity, n_temp)
    line = 50.0
    amp = p["current"] * (0.5 + 0.5 * c.load) * math.sqrt(2) * rng.uniform(0.97, 1.03)
    current = amp * np.sin(2 * np.pi * line * t) + 0.02 * severity * amp * np.sin(2 * np.pi * (line + bearing.bpfo) * t) + rng.normal(0, 0.05, n)
    return {"vibration": vib.astype(np.float32), "temperature": temp.astype(np.float32), "current": current.astype(np.float32)}


def simulate_dataset(n_per_state: int | Sequence[int], rng: np.random.Generator, fs: float = 12_000.0, n: int = 4096, bearing: Bearing | None = None,
                     condition: Condition | None = None) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """n_per_state windows of each state (one count for all, or one per state), in state order; labels are indices
    into STATES."""
    counts = [int(n_per_state)] * len(STATES) if np.isscalar(n_per_state) else [int(k) for k in n_per_state]  # type: ignore[union-attr]
    if len(counts) != len(STATES):
        raise ValueError(f"need one window count per state {STATES}, got {counts}")
    windows, labels = [], []
    for k, state in enumerate(STATES):
        for _ in range(counts[k]):
            windows.append(simulate_window(state, rng, fs, n, bearing, condition))
            labels.append(k)
    return windows, np.asarray(labels, dtype=np.int64)
