"""The RUL task's part of a task spec, typed: the input window, the RUL cap of the labels, the normalization every
party applies and the model section (`tasks.model.ModelSpec`). `fl_node.spec.TaskSpec` types the rest; `RulSpec` is
a spec of this kind, `load` reads one (`tasks.rul.experiment.make_spec` builds one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fl_node.spec import Fields, TaskSpec
from tasks.model import ModelSpec
from tasks.rul import cmapss

KIND = "cmapss_rul"


@dataclass(frozen=True)
class RulParams:
    window: int  # cycles per model input
    rul_cap: int  # labels are min(RUL, rul_cap): a healthy engine's remaining life is not observable
    normalization: cmapss.Normalization
    model: ModelSpec

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.window, len(self.normalization.features))

    @classmethod
    def read(cls, f: Fields) -> RulParams:
        window, rul_cap = f.integer("window"), f.integer("rul_cap")
        norm = f.section("normalization", "an object with features, kind, offset and scale")
        try:
            normalization = cmapss.Normalization.from_dict(norm.obj)
        except cmapss.CmapssDataError as exc:
            raise f.error("normalization", "is malformed", exc.hint or "") from None
        return cls(window, rul_cap, normalization, ModelSpec.read(f.section("model")))

    def to_json(self) -> dict[str, Any]:
        return {"window": self.window, "rul_cap": self.rul_cap, "normalization": self.normalization.to_dict(), "model": self.model.to_json()}


RulSpec = TaskSpec[RulParams]


def load(value: Any, source: str = "") -> RulSpec:
    """A RUL task spec from parsed JSON (any other kind is refused): `fl_node.spec.SpecError` when malformed."""
    return TaskSpec.from_dict(value, kinds={KIND: RulParams.read}, source=source)
