"""Training data from the sensor gateway: only readings of anchored batches that verify against the chain.

The C-MAPSS replayer (`fedpm simulate cmapss`) streams one engine per machine, each cycle as one timestamp
carrying the 3 settings and 21 sensors as channels. Here the trainer rebuilds those rows from the gateway's
store through `fedpm.sensors.api.verified_readings`: a tampered or unanchored batch is left out, and a cycle
missing any channel is dropped rather than guessed. Each machine's history counts as one run to failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedpm.sensors.api import verified_readings
from fedpm.sensors.client import SensorBatchRegistry
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
