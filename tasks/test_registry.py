import json

import numpy as np
import pytest

from fl_node.spec import SpecError, TaskSpec
from tasks.bearing import classifier as sc
from tasks.bearing.spec import BearingParams, Standardization
from tasks.registry import KINDS, load_spec_file
from tasks.rul import cmapss
from tasks.rul.experiment import make_spec
from tasks.rul.spec import RulParams
from tasks.stats import stats_of

NORM = cmapss.Normalization(("s2", "s3"), "minmax", (641.0, 1571.0), (3.0, 45.0))


def _bearing() -> dict:
    return sc.make_spec(stats_of(np.sin(np.arange(40 * 17.0).reshape(40, 17)), sc.FEATURES), hidden=(4,)).to_json()


def refused(value: dict) -> str:
    with pytest.raises(SpecError) as caught:
        TaskSpec.from_dict(value, kinds=KINDS)
    return caught.value.message


def test_every_installed_kind_reads_its_own_spec_back_byte_for_byte(tmp_path):
    # Prepare
    rul, bearing = make_spec(NORM, window=20).to_json(), _bearing()
    (tmp_path / "b.json").write_text(json.dumps(bearing, indent=2))
    # Execute
    typed_rul, typed_bearing = TaskSpec.from_dict(rul, kinds=KINDS), load_spec_file(tmp_path / "b.json")
    # Assert
    assert isinstance(typed_rul.params, RulParams) and typed_rul.params.input_shape == (20, 2) and typed_rul.params.normalization == NORM
    assert isinstance(typed_bearing.params, BearingParams) and typed_bearing.params.input_shape == (len(sc.FEATURES),)
    assert typed_rul.to_json() == rul and typed_bearing.to_json() == bearing


def test_rul_spec_fields_are_checked():
    rul = make_spec(NORM).to_json()
    assert refused({**rul, "window": 0}) == 'task spec: "window" must be an integer >= 1, got 0'
    assert refused({k: v for k, v in rul.items() if k != "rul_cap"}) == 'task spec: "rul_cap" is missing'
    assert refused({**rul, "normalization": {**rul["normalization"], "scale": [0.0, 1.0]}}) == 'task spec: "normalization" is malformed'
    assert refused({**rul, "normalization": {**rul["normalization"], "lo": [1]}}) == 'task spec: "normalization" is malformed'
    assert refused({**rul, "windows": 3}) == 'task spec: "windows" is not a field of a cmapss_rul task spec'
    assert refused({**rul, "model": {**rul["model"], "kind": "cnn2d"}}).startswith('task spec: "model.kind" must be one of cnn1d, gru, mlp')


def test_bearing_spec_fields_are_checked():
    b = _bearing()
    std = b["standardization"]
    assert refused({**b, "standardization": {**std, "std": std["std"][:-1]}}) == "task spec: standardization: 17 features, 17 means and 16 stds"
    assert refused({**b, "standardization": {**std, "std": [0.0] * 17}}).startswith('task spec: "standardization.std" must be a non-empty list of numbers > 0')
    assert refused({**b, "input_shape": [16]}) == 'task spec: "input_shape" must be [17], one input per standardized feature, got [16]'
    assert refused({**b, "standardization": {**std, "median": [1]}}) == 'task spec: "standardization.median" is not a field of the standardization'


def test_standardization_scales_each_feature():
    s = Standardization(("a", "b"), (1.0, -2.0), (2.0, 0.5))
    np.testing.assert_array_equal(s.apply(np.array([[3.0, -1.0]])), np.array([[1.0, 2.0]], np.float32))
