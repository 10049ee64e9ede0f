"""Training data from the sensor gateway: only readings of anchored batches that verify against the chain.

The C-MAPSS replayer (`fedpm simulate cmapss`) streams one engine per machine, each cycle as one timestamp
carrying the 3 settings and 21 sensors as channels; `EngineReplay` streams one engine into a gateway in process, a
machine that degrades to failure for the prediction service, its demo and its tests. Here the trainer rebuilds those rows from the gateway's
store through `fedpm.sensors.api.verified_readings`: a tampered or unanchored batch is left out, and a cycle
missing any channel is dropped rather than guessed. Each machine's history counts as one run to failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedpm.sensors.api import verified_readings
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.simulate import cycle_payloads
from tasks.rul import cmapss, trainer
from tasks.rul.spec import RulSpec

CHANNELS = cmapss.COLUMNS[2:]  # settings and sensors, in file order


@dataclass(frozen=True)
class GatewayData:
    store: Path
    registry: SensorBatchRegistry  # to check every batch against its anchor
    machines: tuple[str, ...]

    def engines(self) -> cmapss.Engines:
        rows: list[list[float]] = []
        for unit, machine in enumerate(self.machines, 1):
            by_ts: dict[int, dict[str, float]] = {}
            for r in verified_readings(self.store, self.registry, machine, channels=set(CHANNELS)):
                by_ts.setdefault(r.ts_ms, {})[r.channel] = r.value
            complete = [ts for ts in sorted(by_ts) if len(by_ts[ts]) == len(CHANNELS)]
            rows += [[unit, cycle, *(by_ts[ts][c] for c in CHANNELS)] for cycle, ts in enumerate(complete, 1)]
        if not rows:
            raise cmapss.CmapssDataError(f"no anchored, verified C-MAPSS readings for {', '.join(self.machines)} in {self.store}",
                                         hint="stream the machines' data through the gateway first (fedpm simulate cmapss + fedpm gateway run)")
        return cmapss.parse_rows(np.asarray(rows, dtype=np.float64), source=str(self.store))

    def load(self, spec: RulSpec) -> tuple[np.ndarray, np.ndarray]:
        return trainer.windows(self.engines(), spec)


@dataclass
class EngineReplay:
    """One C-MAPSS engine as a live machine: cycle i (0-based) stamped t0_ms + (i + 1) * cycle_ms, each channel's
    reading one sequenced block of publisher `src` (seq 0, 1, 2, … across cycles), handed to a gateway's `submit`."""

    machine: str
    rows: np.ndarray  # [cycles, 24]: settings and sensors in file order
    t0_ms: int
    cycle_ms: int = 1000
    src: str = "cmapss-replay"
    cycle: int = 0  # next cycle to stream
    seq: int = 0  # next block seq

    @classmethod
    def of_unit(cls, engines: cmapss.Engines, unit: int, machine: str, t0_ms: int, **kw: object) -> "EngineReplay":
        return cls(machine, engines.subset([unit]).series[0], t0_ms, **kw)  # type: ignore[arg-type]

    @property
    def life(self) -> int:
        return len(self.rows)

    def blocks(self, cycles: int, skip: set[int] | None = None) -> list[tuple[str, str, bytes]]:
        """(machine, channel, payload) of the next `cycles` cycles; blocks whose seq is in `skip` are consumed but not
        returned (lost on the way: the gateway reports them as a gap)."""
        out = []
        for _ in range(min(cycles, self.life - self.cycle)):
            for channel, payload in cycle_payloads(self.rows[self.cycle], self.t0_ms + (self.cycle + 1) * self.cycle_ms):
                if not skip or self.seq not in skip:
                    out.append((self.machine, channel, json.dumps({**payload, "src": self.src, "seq": self.seq}).encode()))
                self.seq += 1
            self.cycle += 1
        return out

    def ts_of(self, cycle: int) -> int:
        """Timestamp (ms) of 0-based cycle `cycle`."""
        return self.t0_ms + (cycle + 1) * self.cycle_ms
