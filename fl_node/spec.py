"""The task spec: what every node and evaluator of a federated task agrees on. Its canonical bytes are pinned in the
content store, their keccak goes on chain (`fl_node.coordinator.publish_task`) and every model file of the task
embeds them (`fl_node.modelfile`).

A `TaskSpec` is frozen and typed, and validated once, when it is loaded (`from_json`, `from_file`, `from_dict`): a
spec that is not JSON or not an object, lacks a field or has one of the wrong type, names an unknown task kind or an
unknown aggregation rule or bad rule parameters raises `SpecError`, one line naming the field, with a hint.

The protocol's own sections are typed here: `task` (the kind), `train` (each trainer's local update) and
`aggregation` (the rule and its parameters, checked against `fl_node.aggregate.RULE_PARAMS`). Every other top-level
field is the task's own part, `params`, typed by the task package (`tasks.rul.spec.RulParams`,
`tasks.bearing.spec.BearingParams`). fl_node imports no task, so callers pass the readers by kind
(`kinds=tasks.registry.KINDS`); without them the part stays a frozen JSON object (`RawParams`), which is all an
aggregator needs.

Byte-exact: `canonical_bytes()` equals `ground.canonical.canonical_json` of the JSON the spec was loaded from. A field
the JSON lacks stays absent (None), numbers keep their JSON type (2 stays 2, 2.0 stays 2.0), and fields of `train`
that this version does not read stay in its `extra`. The loader checks the round trip, so no reader can change what
was hashed on chain without being refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, Protocol, TypeVar

from eth_utils import keccak

from fl_node import aggregate as agg
from ground.canonical import canonical_json
from ground.errors import FedpmError

COMMON = ("task", "train", "aggregation")  # the protocol's top-level fields; every other one is the task's part
NOT_AN_OBJECT = "write the spec as one JSON object (`fedpm task spec` writes one)"


class SpecError(FedpmError):
    """The task spec is malformed: not JSON, not an object, a field missing or of the wrong type, an unknown task
    kind or aggregation rule, bad rule parameters."""


# ---------------------------------------------------------------- frozen JSON


class Json(Mapping[str, Any]):
    """A frozen JSON object: nested objects are `Json`, arrays are tuples; `thaw` gives plain JSON back."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items = {k: freeze(v) for k, v in (items or {}).items()}

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"Json({self._items!r})"


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value if isinstance(value, Json) else Json(value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def _json_problem(value: Any, path: str) -> str | None:
    """Where `value` is not JSON that canonical_json can encode (non-string keys, NaN or infinities, other types)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{path or 'the spec'} has a non-string key {k!r}"
            if (why := _json_problem(v, f"{path}.{k}" if path else k)) is not None:
                return why
        return None
    if isinstance(value, (list, tuple)):
        return next((w for i, v in enumerate(value) if (w := _json_problem(v, f"{path}[{i}]")) is not None), None)
    if isinstance(value, float) and not math.isfinite(value):
        return f'"{path}" is {value}, which JSON cannot carry'
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    return f'"{path}" is a {type(value).__name__}, not a JSON value'


def _show(value: Any) -> str:
    text = json.dumps(thaw(value)) if _json_problem(value, "") is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


# ---------------------------------------------------------------- typed reads


class Fields:
    """Typed reads from one JSON object of a spec, for this module and the task packages' readers. Errors name the
    field's path (`train.epochs`) and where the spec came from; `rest()` is what no read asked for."""

    def __init__(self, obj: Mapping[str, Any], path: str = "", source: str = "") -> None:
        self.obj, self.path, self.source = obj, path, source
        self._read: list[str] = []

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str, hint: str) -> SpecError:
        """An error about field `key` of this object: `task spec <source>: "<path>" <problem> (<hint>)`."""
        return SpecError(f'{_where(self.source)}: "{self.name(key)}" {problem}', hint=hint)

    def fail(self, problem: str, hint: str) -> SpecError:
        """An error about this object as a whole: `task spec <source>: <path>: <problem> (<hint>)`."""
        return SpecError(f"{_where(self.source)}: {self.path or 'the spec'}: {problem}", hint=hint)

    def value(self, key: str, what: str, ok: Callable[[Any], bool], optional: bool = False) -> Any:
        """The field `key` if `ok(value)`; `what` says what it must be. Absent: None if `optional`, else an error."""
        self._read.append(key)
        if key not in self.obj:
            if optional:
                return None
            raise self.error(key, "is missing", f'add "{self.name(key)}": {what}')
        value = self.obj[key]
        if not ok(value):
            raise self.error(key, f"must be {what}, got {_show(value)}", f'set "{self.name(key)}" to {what}')
        return value

    def integer(self, key: str, minimum: int = 1, optional: bool = False) -> Any:
        return self.value(key, f"an integer >= {minimum}", lambda v: _is_int(v) and v >= minimum, optional)

    def number(self, key: str, minimum: float | None = None, positive: bool = False, optional: bool = False) -> Any:
        what = "a number > 0" if positive else "a number" if minimum is None else f"a number >= {minimum:g}"
        return self.value(key, what, lambda v: _is_number(v) and (not positive or v > 0) and (minimum is None or v >= minimum), optional)

    def text(self, key: str, what: str = "a non-empty string", optional: bool = False) -> Any:
        return self.value(key, what, lambda v: isinstance(v, str) and v != "", optional)

    def integers(self, key: str, minimum: int = 1, optional: bool = False) -> Any:  # a tuple, or None if optional and absent
        v = self.value(key, f"a non-empty list of integers >= {minimum}", lambda v: _list_of(v, lambda x: _is_int(x) and x >= minimum), optional)
        return None if v is None else tuple(v)

    def numbers(self, key: str, positive: bool = False) -> tuple[float, ...]:
        what = "a non-empty list of numbers > 0" if positive else "a non-empty list of numbers"
        return tuple(self.value(key, what, lambda v: _list_of(v, lambda x: _is_number(x) and (not positive or x > 0))))

    def texts(self, key: str) -> tuple[str, ...]:
        return tuple(self.value(key, "a non-empty list of strings", lambda v: _list_of(v, lambda x: isinstance(x, str))))

    def section(self, key: str, what: str = "a JSON object") -> Fields:
        return Fields(self.value(key, what, lambda v: isinstance(v, Mapping)), self.name(key), self.source)

    def optional_section(self, key: str, what: str = "a JSON object") -> Fields | None:
        obj = self.value(key, what, lambda v: isinstance(v, Mapping), optional=True)
        return None if obj is None else Fields(obj, self.name(key), self.source)

    def rest(self) -> Json:
        """The fields no read asked for, frozen (kept so the spec's bytes stay the same)."""
        return Json({k: v for k, v in self.obj.items() if k not in self._read})

    def refuse_rest(self, what: str) -> None:
        """Refuse any field no read asked for: `what` names the object (e.g. "a cmapss_rul task spec")."""
        for key in self.obj:
            if key not in self._read:
                raise self.error(key, f"is not a field of {what}", f"remove it or correct its name (fields: {', '.join(self._read)})")


def _list_of(value: Any, ok: Callable[[Any], bool]) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(ok(v) for v in value)


def present(**fields: Any) -> dict[str, Any]:
    """The fields that are not None: what a section with optional fields writes back."""
    return {k: v for k, v in fields.items() if v is not None}


# ---------------------------------------------------------------- the protocol's sections


@dataclass(frozen=True)
class TrainSpec:
    """`train`: each trainer's local update in a round."""

    epochs: int  # local epochs per round
    batch_size: int
    lr_decay: float | None = None  # the model's learning rate is multiplied by this each round; None: constant
    lr_min: float | None = None  # floor of the decayed rate; None: 0
    extra: Json = field(default_factory=Json)  # fields this version does not read: kept, they are hashed on chain

    @classmethod
    def read(cls, f: Fields) -> TrainSpec:
        return cls(f.integer("epochs"), f.integer("batch_size"), f.number("lr_decay", positive=True, optional=True),
                   f.number("lr_min", minimum=0, optional=True), f.rest())

    def to_json(self) -> dict[str, Any]:
        return {**thaw(self.extra), "epochs": self.epochs, "batch_size": self.batch_size, **present(lr_decay=self.lr_decay, lr_min=self.lr_min)}


@dataclass(frozen=True)
class AggregationSpec:
    """`aggregation`: the rule every aggregator applies (`fl_node.aggregate.RULES`) and its parameters. Loading
    checks the rule and the parameters' bounds; task creation checks them against the trainers
    (`TaskSpec.check_trainers`)."""

    rule: str = "fedavg"
    params: Json = field(default_factory=Json)

    @classmethod
    def read(cls, f: Fields) -> AggregationSpec:
        rule = f.text("rule", f"one of {', '.join(sorted(agg.RULES))}")
        params = f.section("params")
        f.refuse_rest("the aggregation section")
        spec = cls(rule, params.rest())
        if (why := agg.rule_problem(spec.rule, spec.params)) is not None:
            raise f.fail(why, hint=f"rules: {agg.describe_rules()}")
        return spec

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "params": thaw(self.params)}


class TaskParams(Protocol):
    """The task's own part of a spec (every top-level field but task, train and aggregation), typed by its package."""

    def to_json(self) -> dict[str, Any]: ...


ReadParams = Callable[[Fields], TaskParams]  # a task package's reader of its part; raises SpecError (`Fields.error`)
Kinds = Mapping[str, ReadParams]  # task kind -> reader, e.g. tasks.registry.KINDS


@dataclass(frozen=True)
class RawParams:
    """A task's part read without its package: the JSON as given, frozen."""

    fields: Json

    def to_json(self) -> dict[str, Any]:
        return thaw(self.fields)


P = TypeVar("P", bound=TaskParams, covariant=True)


@dataclass(frozen=True, eq=False)
class TaskSpec(Generic[P]):
    """A task spec. Two specs are equal when their canonical bytes are (what goes on chain)."""

    kind: str  # the JSON's "task"
    train: TrainSpec
    params: P
    aggregation: AggregationSpec | None = None  # None: the spec names no rule, aggregators apply fedavg

    def to_json(self) -> dict[str, Any]:
        out = {**self.params.to_json(), "task": self.kind, "train": self.train.to_json()}
        if self.aggregation is not None:
            out["aggregation"] = self.aggregation.to_json()
        return out

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def digest(self) -> bytes:
        """keccak256 of the canonical bytes: the spec hash on chain."""
        return keccak(self.canonical_bytes())

    def rule(self) -> agg.Rule:
        a = self.aggregation or AggregationSpec()
        return agg.rule_by_name(a.rule, **a.params)

    def check_trainers(self, n: int) -> None:
        """Refuse a rule that cannot aggregate this many trainers' updates (e.g. Krum's f too large)."""
        a = self.aggregation or AggregationSpec()
        if (why := agg.rule_problem(a.rule, a.params, n)) is not None:
            raise SpecError(f"task spec: aggregation: {why}", hint="lower the rule's tolerance in aggregation.params, or add trainers")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskSpec) and self.canonical_bytes() == other.canonical_bytes()

    def __hash__(self) -> int:
        return hash(self.canonical_bytes())

    @classmethod
    def from_dict(cls, value: Any, *, kinds: Kinds | None = None, source: str = "") -> TaskSpec[Any]:
        """Validate and type a spec given as parsed JSON. With `kinds`, the task's part is read by its kind's reader
        (an unknown kind is refused); without, it stays `RawParams`."""
        where = _where(source)
        if not isinstance(value, Mapping):
            raise SpecError(f"{where} is a JSON {_json_kind(value)}, not an object", hint=NOT_AN_OBJECT)
        if (why := _json_problem(value, "")) is not None:
            raise SpecError(f"{where}: {why}", hint="give every field a finite number, a string, a list or an object")
        f = Fields(value, "", source)
        kind = f.text("task", f"the task kind, one of {', '.join(sorted(kinds))}" if kinds else "the task kind")
        if kinds is not None and kind not in kinds:
            raise f.error("task", f"names unknown task kind {kind!r}", f'set "task" to one of {", ".join(sorted(kinds))}')
        train = TrainSpec.read(f.section("train", 'an object {"epochs": ..., "batch_size": ...}'))
        aggregation_fields = f.optional_section("aggregation")
        aggregation = AggregationSpec.read(aggregation_fields) if aggregation_fields is not None else None
        part = Fields({k: v for k, v in value.items() if k not in COMMON}, "", source)
        if kinds is None:
            params: TaskParams = RawParams(part.rest())
        else:
            params = kinds[kind](part)
            part.refuse_rest(f"a {kind} task spec")
        spec: TaskSpec[Any] = cls(kind, train, params, aggregation)
        if spec.canonical_bytes() != canonical_json(value):
            raise SpecError(f"{where}: the {kind} reader does not give back the spec's exact bytes",
                            hint="a bug in the task package's spec reader: its to_json must return every field it read, unchanged")
        return spec

    @classmethod
    def from_json(cls, raw: bytes | str, *, kinds: Kinds | None = None, source: str = "") -> TaskSpec[Any]:
        """Validate and type a spec given as JSON text (e.g. the canonical bytes fetched by the spec's CID)."""
        try:
            value = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
            raise SpecError(f"{_where(source)} is not JSON: {str(exc).splitlines()[0]}", hint=NOT_AN_OBJECT) from None
        return cls.from_dict(value, kinds=kinds, source=source)

    @classmethod
    def from_file(cls, path: str | Path, *, kinds: Kinds | None = None) -> TaskSpec[Any]:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read task spec {path}: {exc.strerror}", hint="pass the path of a spec file (`fedpm task spec` writes one)") from None
        return cls.from_json(raw, kinds=kinds, source=str(path))


def _where(source: str) -> str:
    return f"task spec {source}" if source else "task spec"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
