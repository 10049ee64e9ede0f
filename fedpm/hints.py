"""The revert hints of every feature, composed for the faces to hand to `chain.connect.connect(..., hints=...)`.

Each feature owns the hints of its contract's errors (`REVERT_HINTS` beside its client); chain keeps only the
generic ones (`chain.reverts.GENERIC_HINTS`).
"""

from __future__ import annotations

from fedpm.consortium import client as consortium
from fedpm.lease import client as lease
from fedpm.maintenance import client as maintenance
from fedpm.parts import client as parts
from fedpm.sensors import client as sensors
from fl_node import rounds

REVERT_HINTS: dict[str, str] = {**rounds.REVERT_HINTS, **consortium.REVERT_HINTS, **maintenance.REVERT_HINTS, **sensors.REVERT_HINTS, **lease.REVERT_HINTS,
                                 **parts.REVERT_HINTS}
