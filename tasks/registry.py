"""The installed task kinds: each kind's spec reader (what `fl_node.spec.TaskSpec` loads with) and its trainer (what a
face wires into `fl_node.nodes.TrainerNode(trainer_for=...)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from fl_node.spec import Kinds, TaskSpec
from fl_node.trainer import Trainer
from tasks.bearing import spec as bearing_spec
from tasks.bearing import trainer as bearing
from tasks.rul import spec as rul_spec
from tasks.rul import trainer as rul

KINDS: Kinds = {rul_spec.KIND: rul_spec.RulParams.read, bearing_spec.KIND: bearing_spec.BearingParams.read}
TRAINERS: dict[str, Callable[[Any, Any], Trainer]] = {rul_spec.KIND: rul.trainer_for, bearing_spec.KIND: bearing.trainer_for}


def load_spec_file(path: str | Path) -> TaskSpec[Any]:
    """A spec file of any installed kind, validated (`fl_node.spec.SpecError` names what is wrong)."""
    return TaskSpec.from_file(path, kinds=KINDS)


def trainer_for(spec: TaskSpec[Any], source: Any) -> Trainer:
    """The trainer of the spec's task kind over this party's `source` of local data. The spec must have been loaded
    with `KINDS` (which refuses kinds no task implements)."""
    return TRAINERS[spec.kind](spec, source)
