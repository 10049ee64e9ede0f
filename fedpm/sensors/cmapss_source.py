"""Training data from the sensor gateway: only readings of anchored batches that verify against the chain.

The C-MAPSS replayer (`fedpm simulate cmapss`) streams one engine per machine, each cycle as one timestamp
carrying the 3 settings and 21 sensors as channels, signed by the machine's device. Here the trainer rebuilds those
rows from the gateway's store through `fedpm.sensors.api.verified_data`: a forged, tampered or unanchored batch is
left out, and a cycle missing any channel is dropped rather than guessed. Each machine's history counts as one run
to failure. `lineage()` documents the batches the rows came from (`fedpm.sensors.lineage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fedpm.sensors.api import UsedBatch, verified_data
from fedpm.sensors.lineage import lineage_document
from fedpm.sensors.verify import Checker
from tasks.rul import cmapss, trainer
from tasks.rul.spec import RulSpec

CHANNELS = cmapss.COLUMNS[2:]  # settings and sensors, in file order


@dataclass
class GatewayData:
    store: Path
    checker: Checker  # to check every batch against its devices' signatures and its anchor
    machines: tuple[str, ...]
    used: list[UsedBatch] = field(default_factory=list, init=False)

    def engines(self) -> cmapss.Engines:
        rows: list[list[float]] = []
        self.used = []
        for unit, machine in enumerate(self.machines, 1):
            by_ts: dict[int, dict[str, float]] = {}
            data = verified_data(self.store, self.checker, machine, channels=set(CHANNELS))
            for r in data.readings:
                by_ts.setdefault(r.ts_ms, {})[r.channel] = r.value
            complete = [ts for ts in sorted(by_ts) if len(by_ts[ts]) == len(CHANNELS)]
            rows += [[unit, cycle, *(by_ts[ts][c] for c in CHANNELS)] for cycle, ts in enumerate(complete, 1)]
            self.used += data.batches
        if not rows:
            raise cmapss.CmapssDataError(f"no anchored, verified C-MAPSS readings for {', '.join(self.machines)} in {self.store}",
                                         hint="stream the machines' data through the gateway first (fedpm simulate cmapss + fedpm gateway run)")
        return cmapss.parse_rows(np.asarray(rows, dtype=np.float64), source=str(self.store))

    def load(self, spec: RulSpec) -> tuple[np.ndarray, np.ndarray]:
        return trainer.windows(self.engines(), spec)

    def lineage(self) -> dict:
        """The lineage document of the batches the last `engines()` read."""
        return lineage_document(self.used)
