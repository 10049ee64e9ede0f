import math

import numpy as np
import pytest

from fl_node import modelfile
from fl_node.spec import SpecError
from tasks.rul import cmapss
from tasks.rul import spec as rul_spec
from tasks.rul import evaluate as ev
from tasks import model as M
from tasks.rul.test_cmapss import _write


def test_phm08_score_penalizes_late_more_than_early():
    # Execute
    late = ev.phm08_score(np.array([10.0]), np.array([0.0]))
    early = ev.phm08_score(np.array([0.0]), np.array([10.0]))
    # Assert
    assert late == pytest.approx(math.e - 1)
    assert early == pytest.approx(math.exp(10 / 13) - 1)
    assert late > early and ev.phm08_score(np.ones(3), np.ones(3)) == 0


def _spec(norm: cmapss.Normalization) -> rul_spec.RulSpec:
    return rul_spec.load({"task": rul_spec.KIND, "train": {"epochs": 1, "batch_size": 8}, "window": 10, "rul_cap": 125, "normalization": norm.to_dict(),
                          "model": {"filters": [2], "kernel": 3, "dense": 4}})


def test_evaluate_reads_spec_from_model_file_and_caps_true_rul(tmp_path):
    # Prepare: a model that predicts exactly 125 (all kernels zero, output bias 1 * scale 125)
    eng = cmapss.load_file(_write(tmp_path / "train.txt", {1: 40, 2: 50, 3: 8}))
    norm = cmapss.normalization_from_stats(cmapss.local_stats(eng), ("s2", "s3"), "minmax")
    spec = _spec(norm)
    named = [(n, np.zeros_like(a)) for n, a in M.get_weights(M.build_model(spec))]
    named[-1] = (named[-1][0], np.ones_like(named[-1][1]))
    modelfile.save_model(tmp_path / "m.safetensors", named, spec.to_json())
    (tmp_path / "rul.txt").write_text("200\n125\n100\n")
    cmapss.write_test_files(eng, tmp_path / "test.txt", tmp_path / "unused.txt", seed=0, min_cycles=5)
    # Execute
    out = ev.evaluate(tmp_path / "m.safetensors", tmp_path / "test.txt", tmp_path / "rul.txt")
    # Assert: errors 0, 0, 25 after capping 200 -> 125; engine 3 is shorter than the window (padded)
    assert out["rmse"] == pytest.approx(math.sqrt(25**2 / 3), rel=1e-5)
    assert out["score"] == pytest.approx(math.exp(2.5) - 1, rel=1e-5)


def test_evaluate_rejects_mismatched_rul_file(tmp_path):
    eng = cmapss.load_file(_write(tmp_path / "train.txt", {1: 40, 2: 50}))
    norm = cmapss.normalization_from_stats(cmapss.local_stats(eng), ("s2",), "minmax")
    spec = _spec(norm)
    modelfile.save_model(tmp_path / "m.safetensors", M.get_weights(M.build_model(spec)), spec.to_json())
    cmapss.write_test_files(eng, tmp_path / "test.txt", tmp_path / "rul.txt", seed=0)
    (tmp_path / "rul.txt").write_text("5\n")
    with pytest.raises(ev.EvaluationError, match="RUL file has 1"):
        ev.evaluate(tmp_path / "m.safetensors", tmp_path / "test.txt", tmp_path / "rul.txt")


@pytest.mark.parametrize("embedded,error", [
    (None, ev.EvaluationError),  # no spec at all
    ({"task": "bearing_state"}, ev.EvaluationError),  # another task's model
    ({"task": "cmapss_rul", "train": {"epochs": 1, "batch_size": 8}, "window": 10}, SpecError),  # an RUL spec with fields missing
])
def test_evaluate_refuses_a_model_without_a_valid_rul_spec_in_one_line(tmp_path, embedded, error):
    modelfile.save_model(tmp_path / "m.safetensors", [("00.w", np.zeros(2, np.float32))], embedded)
    (tmp_path / "rul.txt").write_text("5\n")
    with pytest.raises(error) as caught:
        ev.evaluate(tmp_path / "m.safetensors", tmp_path / "none.txt", tmp_path / "rul.txt")
    assert str(tmp_path / "m.safetensors") in str(caught.value) and "\n" not in str(caught.value)
