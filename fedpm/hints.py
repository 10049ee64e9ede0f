"""The revert hints and argument formats of every feature, composed for the faces to hand to
`chain.connect.connect(..., hints=REVERT_HINTS, formats=REVERT_FORMATS)`.

Each feature owns the hints of its contract's errors (`REVERT_HINTS` beside its client) and how their arguments read
(`REVERT_FORMATS`: role names, token amounts, enum names); chain keeps only the generic ones
(`chain.reverts.GENERIC_HINTS`; ids and addresses by `chain.reverts.format_arg`).
"""

from __future__ import annotations

from chain.reverts import ArgFormats
from fedpm.consortium import client as consortium
from fedpm.lease import client as lease
from fedpm.maintenance import client as maintenance
from fedpm.parts import client as parts
from fedpm.sensors import client as sensors
from fl_node import rounds

REVERT_HINTS: dict[str, str] = {**rounds.REVERT_HINTS, **consortium.REVERT_HINTS, **maintenance.REVERT_HINTS, **sensors.REVERT_HINTS, **lease.REVERT_HINTS,
                                 **parts.REVERT_HINTS}

REVERT_FORMATS: ArgFormats = {**rounds.REVERT_FORMATS, **consortium.REVERT_FORMATS, **lease.REVERT_FORMATS}
