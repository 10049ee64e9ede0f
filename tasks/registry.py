"""Task kind -> trainer: what a face wires into `fl_node.nodes.TrainerNode(trainer_for=...)`."""

from __future__ import annotations

from typing import Any, Callable

from fl_node.trainer import Trainer
from ground.errors import FedpmError
from tasks.bearing import trainer as bearing
from tasks.rul import trainer as rul

TRAINERS: dict[str, Callable[[dict, Any], Trainer]] = {rul.KIND: rul.trainer_for, bearing.KIND: bearing.trainer_for}


class UnknownTask(FedpmError):
    """The task spec names a kind no installed task implements."""


def trainer_for(spec: dict, source: Any) -> Trainer:
    """The trainer of the spec's task kind over this party's `source` of local data."""
    kind = spec.get("task")
    if kind not in TRAINERS:
        raise UnknownTask(f"task kind {kind!r} has no trainer", hint=f"publish a spec whose \"task\" is one of {', '.join(sorted(TRAINERS))}")
    return TRAINERS[kind](spec, source)
