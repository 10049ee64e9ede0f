import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import given, strategies as st

from fl_node import aggregate as agg
from fl_node.spec import AggregationSpec, Fields, Json, RawParams, SpecError, TaskSpec, TrainSpec
from ground.canonical import canonical_json

BASE = {"task": "toy", "train": {"epochs": 2, "batch_size": 32}}


@dataclass(frozen=True)
class ToyParams:
    """A task package's reader, as tasks/ write them: one required field, one optional, nothing else."""

    size: int
    scale: float | None

    @classmethod
    def read(cls, f: Fields) -> "ToyParams":
        return cls(f.integer("size"), f.number("scale", optional=True))

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, **({} if self.scale is None else {"scale": self.scale})}


KINDS = {"toy": ToyParams.read}


def refused(value: Any, **kw) -> SpecError:
    with pytest.raises(SpecError) as caught:
        TaskSpec.from_dict(value, **kw) if not isinstance(value, (bytes, str)) else TaskSpec.from_json(value, **kw)
    assert "\n" not in str(caught.value) and caught.value.hint
    return caught.value


# ---------------------------------------------------------------- byte-exact

json_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
numbers = st.integers(1, 10**6) | st.floats(0.001, 1e6)  # an int stays an int, a float a float: 2 and 2.0 hash differently
reserved = {"epochs", "batch_size", "lr_decay", "lr_min"}


@given(extra=st.dictionaries(st.text(max_size=8).filter(lambda k: k not in reserved), json_values, max_size=4),
       decay=st.none() | numbers, lr_min=st.none() | st.integers(0, 3) | st.floats(0, 1), part=st.dictionaries(st.text(min_size=1, max_size=8).filter(
           lambda k: k not in ("task", "train", "aggregation")), json_values, max_size=4), rule=st.sampled_from([None, "fedavg", "median"]))
def test_canonical_bytes_are_the_canonical_json_of_what_was_loaded(extra, decay, lr_min, part, rule):
    # Prepare: any valid spec, with fields this version does not read, optional fields present or not
    train = {**extra, "epochs": 3, "batch_size": 64, **({} if decay is None else {"lr_decay": decay}), **({} if lr_min is None else {"lr_min": lr_min})}
    value = {**part, "task": "anything", "train": train, **({} if rule is None else {"aggregation": {"rule": rule, "params": {}}})}
    # Execute
    spec = TaskSpec.from_dict(value)
    # Assert
    assert spec.canonical_bytes() == canonical_json(value)
    assert spec.digest() == keccak(canonical_json(value))
    assert TaskSpec.from_json(spec.canonical_bytes()) == spec


def test_a_task_part_typed_by_its_reader_gives_back_the_same_bytes():
    # Prepare
    value = {**BASE, "size": 3, "scale": 2.0, "aggregation": {"rule": "trimmed_mean", "params": {"beta": 0.2}}}
    # Execute
    spec = TaskSpec.from_dict(value, kinds=KINDS)
    # Assert
    assert spec.params == ToyParams(3, 2.0) and spec.train == TrainSpec(2, 32) and spec.aggregation == AggregationSpec("trimmed_mean", Json({"beta": 0.2}))
    assert spec.canonical_bytes() == canonical_json(value)
    assert TaskSpec.from_dict(value).params == RawParams(Json({"size": 3, "scale": 2.0}))  # without its reader: kept raw
    assert spec.rule().func is agg.trimmed_mean and spec.rule().keywords == {"beta": 0.2}
    assert TaskSpec.from_dict(BASE).rule() is agg.fedavg  # no aggregation section: fedavg


def test_a_reader_that_drops_a_field_is_refused_rather_than_changing_the_hash():
    # Prepare: a buggy reader that reads "scale" but never writes it back
    kinds = {"toy": lambda f: ToyParams(f.integer("size"), f.number("scale") and None)}
    # Execute
    err = refused({**BASE, "size": 3, "scale": 2.0}, kinds=kinds)
    # Assert
    assert err.message == "task spec: the toy reader does not give back the spec's exact bytes"


def test_specs_are_frozen_and_equal_when_their_bytes_are():
    a = TaskSpec.from_dict({**BASE, "size": 1}, kinds=KINDS)
    b = TaskSpec.from_json(json.dumps({"size": 1, **BASE}, indent=2), kinds=KINDS)
    c = TaskSpec.from_dict({**BASE, "size": 1.0})  # 1.0 is another byte string than 1

    assert a == b and hash(a) == hash(b) and a != c
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.train.extra["x"] = 1  # type: ignore[index]


# ---------------------------------------------------------------- refused, in one line


@pytest.mark.parametrize("value,message", [
    (b"{not json", "task spec s.json is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"task": NaN}', "task spec s.json is not JSON: NaN is not a JSON number"),
    (b"\xff\xfe\x00", "task spec s.json is not JSON: 'utf-16-le' codec can't decode byte 0x00 in position 2: truncated data"),
    (b"[1, 2]", "task spec s.json is a JSON array, not an object"),
    (b"{}", 'task spec s.json: "task" is missing'),
    (b'{"task": 7}', 'task spec s.json: "task" must be the task kind, one of toy, got 7'),
    (b'{"task": "nope", "train": {}}', "task spec s.json: \"task\" names unknown task kind 'nope'"),
    (b'{"task": "toy"}', 'task spec s.json: "train" is missing'),
    (b'{"task": "toy", "train": []}', 'task spec s.json: "train" must be an object {"epochs": ..., "batch_size": ...}, got []'),
    (b'{"task": "toy", "train": {"batch_size": 2}}', 'task spec s.json: "train.epochs" is missing'),
    (b'{"task": "toy", "train": {"epochs": "2", "batch_size": 2}}', 'task spec s.json: "train.epochs" must be an integer >= 1, got "2"'),
    (b'{"task": "toy", "train": {"epochs": 2.0, "batch_size": 2}}', 'task spec s.json: "train.epochs" must be an integer >= 1, got 2.0'),
    (b'{"task": "toy", "train": {"epochs": true, "batch_size": 2}}', 'task spec s.json: "train.epochs" must be an integer >= 1, got true'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 0}}', 'task spec s.json: "train.batch_size" must be an integer >= 1, got 0'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2, "lr_decay": 0}}', 'task spec s.json: "train.lr_decay" must be a number > 0, got 0'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2, "lr_min": -1}}', 'task spec s.json: "train.lr_min" must be a number >= 0, got -1'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}}', 'task spec s.json: "size" is missing'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "szie": 2}', 'task spec s.json: "szie" is not a field of a toy task spec'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": "median"}',
     'task spec s.json: "aggregation" must be a JSON object, got "median"'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": {"rule": "median"}}',
     'task spec s.json: "aggregation.params" is missing'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": {"rule": "mean", "params": {}}}',
     "task spec s.json: aggregation: unknown rule 'mean'"),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": {"rule": "median", "params": {}, "f": 1}}',
     'task spec s.json: "aggregation.f" is not a field of the aggregation section'),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": {"rule": "trimmed_mean", "params": {"beta": 0.5}}}',
     "task spec s.json: aggregation: trimmed_mean's beta must be a number in [0, 0.5), got 0.5"),
    (b'{"task": "toy", "train": {"epochs": 2, "batch_size": 2}, "size": 1, "aggregation": {"rule": "krum", "params": {"f": -1}}}',
     "task spec s.json: aggregation: krum's f must be an integer in [0, inf), got -1"),
])
def test_a_bad_spec_is_refused_naming_the_field_and_the_fix(value, message):
    err = refused(value, kinds=KINDS, source="s.json")
    assert err.message == message


def test_values_that_json_cannot_carry_are_refused_from_dicts_too():
    assert refused({**BASE, "x": float("inf")}).message == 'task spec: "x" is inf, which JSON cannot carry'
    assert refused({**BASE, "x": {1: 2}}).message == "task spec: x has a non-string key 1"
    assert refused({**BASE, "x": {1, 2}}).message == 'task spec: "x" is a set, not a JSON value'


def test_hints_name_the_fix():
    assert refused(b'{"task": "toy", "train": {"batch_size": 2}}', kinds=KINDS).hint == 'add "train.epochs": an integer >= 1'
    assert refused(b'{"task": "nope"}', kinds=KINDS).hint == 'set "task" to one of toy'
    assert refused(b"[]").hint == "write the spec as one JSON object (`fedpm task spec` writes one)"
    assert agg.describe_rules() in refused({**BASE, "aggregation": {"rule": "mean", "params": {}}}).hint


def test_a_spec_file_that_cannot_be_read_is_refused(tmp_path):
    with pytest.raises(SpecError, match="cannot read task spec"):
        TaskSpec.from_file(tmp_path / "missing.json")
    (tmp_path / "s.json").write_text(json.dumps({**BASE, "size": 2}))
    assert TaskSpec.from_file(tmp_path / "s.json", kinds=KINDS).params == ToyParams(2, None)


@pytest.mark.parametrize("rule,params,trainers,ok", [
    ("krum", {"f": 1}, 5, True),
    ("krum", {"f": 1}, 4, False),
    ("krum", {}, 4, False),  # krum's default f=1
    ("krum", {"f": 0}, 3, True),
    ("trimmed_mean", {"beta": 0.4}, 2, True),
])
def test_task_creation_checks_the_rule_against_the_trainers(rule, params, trainers, ok):
    spec = TaskSpec.from_dict({**BASE, "aggregation": {"rule": rule, "params": params}})
    if ok:
        spec.check_trainers(trainers)
    else:
        with pytest.raises(SpecError, match=f"krum with f=1 needs more than 4 trainers, the task has {trainers}"):
            spec.check_trainers(trainers)
