"""Training data from the sensor gateway: only readings of anchored batches that verify against the chain.

The C-MAPSS replayer (`fedpm simulate cmapss`) streams one engine per machine, each cycle as one timestamp
carrying the 3 settings and 21 sensors as channels, signed by the machine's device. `EngineReplay` streams one engine
into a gateway in process as its device signs it, a machine that degrades to failure for the prediction service, its
demo and its tests. Here the trainer rebuilds those rows from the gateway's store through
`fedpm.sensors.api.verified_data`: a forged, tampered or unanchored batch is left out, and a cycle missing any
channel is dropped rather than guessed. Each machine's history counts as one run to failure. `lineage()` documents
the batches the rows came from (`fedpm.sensors.lineage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fedpm.sensors.api import UsedBatch, verified_data
from fedpm.sensors.device import Device
from fedpm.sensors.lineage import lineage_document
from fedpm.sensors.simulate import cycle_payloads
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


@dataclass
class EngineReplay:
    """One C-MAPSS engine as a live machine: cycle i (0-based) stamped t0_ms + (i + 1) * cycle_ms, each channel's
    reading one block signed by the machine's `device` under its next seq, for a gateway's `submit_block`. The
    device must be bound to the machine by t0_ms (a key signs only readings from its bind time; `in_past`)."""

    device: Device
    rows: np.ndarray  # [cycles, 24]: settings and sensors in file order
    t0_ms: int
    cycle_ms: int = 1000
    cycle: int = 0  # next cycle to stream

    @classmethod
    def of_unit(cls, engines: cmapss.Engines, unit: int, device: Device, t0_ms: int, **kw: object) -> "EngineReplay":
        return cls(device, engines.subset([unit]).series[0], t0_ms, **kw)  # type: ignore[arg-type]

    @classmethod
    def in_past(cls, device: Device, rows: np.ndarray, now_ms: int, since_ms: int) -> "EngineReplay":
        """A replay whose cycles are all stamped in (since_ms, now_ms]: 1 s apart, squeezed closer when the interval is
        shorter (a device key bound at since_ms signs only readings from then on, and readings from the future would
        outlive a maintenance record answering them)."""
        slots = len(rows) + 5
        t0_ms = max(since_ms, now_ms - 1000 * slots)
        cycle_ms = min(1000, (now_ms - t0_ms) // slots)
        if cycle_ms < 1:
            raise cmapss.CmapssDataError(f"device {device.address} of {device.machine} was bound too recently to have signed {len(rows)} cycles",
                                         hint="replay fewer cycles or wait a few seconds after binding the device")
        return cls(device, rows, t0_ms, cycle_ms=cycle_ms)

    @property
    def machine(self) -> str:
        return self.device.machine

    @property
    def life(self) -> int:
        return len(self.rows)

    def blocks(self, cycles: int, skip: set[int] | None = None) -> list[bytes]:
        """The signed blocks of the next `cycles` cycles; blocks whose seq is in `skip` are signed (their seq spent)
        but not returned (lost on the way: the gateway reports them as a gap of the device)."""
        out = []
        for _ in range(min(cycles, self.life - self.cycle)):
            for channel, payload in cycle_payloads(self.rows[self.cycle], self.ts_of(self.cycle)):
                seq, signed = self.device.sign(channel, payload["unit"], [payload["ts"]], [payload["value"]])
                if not skip or seq not in skip:
                    out.append(signed)
            self.cycle += 1
        return out

    def ts_of(self, cycle: int) -> int:
        """Timestamp (ms) of 0-based cycle `cycle`."""
        return self.t0_ms + (cycle + 1) * self.cycle_ms
