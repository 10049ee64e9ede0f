import numpy as np
import pytest

from tasks import model as M
from tasks.rul import spec as rul_spec
from tasks.rul.evaluate import rmse

NORM = {"features": ["s2", "s3"], "kind": "minmax", "offset": [0.0, 0.0], "scale": [1.0, 1.0]}


def spec(model: dict | None = None, train: dict | None = None) -> rul_spec.RulSpec:
    """A 6-cycle window of two features into a small CNN; `model`, `train` override fields."""
    return rul_spec.load({"task": rul_spec.KIND, "window": 6, "rul_cap": 125, "normalization": NORM,
                          "model": {"filters": [4], "kernel": 3, "dense": 8, **(model or {})}, "train": {"epochs": 1, "batch_size": 16, **(train or {})}})


SPEC = spec()


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 2)).astype(np.float32)
    y = (60 + 40 * x[:, -1, 0]).astype(np.float32)
    return x, y


def test_names_are_stable_across_builds_and_in_model_order():
    # Execute: the second build gets keras auto names like conv1d_1
    a, b = M.build_model(SPEC), M.build_model(SPEC)
    # Assert
    names = [n for n, _ in M.get_weights(a)]
    assert names == [n for n, _ in M.get_weights(b)]
    assert names == ["00.conv1d.kernel", "00.conv1d.bias", "01.dense.kernel", "01.dense.bias", "02.dense.kernel", "02.dense.bias"]
    assert [n[:2] for n in names] == sorted(n[:2] for n in names)  # layer index prefix follows model order


def test_same_seed_same_initial_weights_and_set_weights_round_trips():
    a, b = M.build_model(SPEC, seed=3), M.build_model(SPEC, seed=4)
    wa = M.get_weights(a)
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(wa, M.get_weights(M.build_model(SPEC, seed=3))))
    M.set_weights(b, wa)
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(wa, M.get_weights(b)))


def test_set_weights_rejects_another_architecture():
    other = M.build_model(spec(model={"filters": [5]}))
    with pytest.raises(ValueError, match="shape"):
        M.set_weights(other, M.get_weights(M.build_model(SPEC)))
    with pytest.raises(ValueError, match="names"):
        M.set_weights(other, M.get_weights(M.build_model(SPEC))[:2])


def test_train_local_is_deterministic_and_learns():
    # Prepare
    x, y = _data()
    a, b = M.build_model(SPEC, seed=1), M.build_model(SPEC, seed=1)
    before = rmse(M.predict(a, x).ravel(), y)
    # Execute
    ma = M.train_local(a, x, y, epochs=15, batch_size=16, seed=5, learning_rate=0.01)
    mb = M.train_local(b, x, y, epochs=15, batch_size=16, seed=5, learning_rate=0.01)
    # Assert
    assert ma["num_samples"] == 64 and ma == mb
    assert all(np.array_equal(p, q) for (_, p), (_, q) in zip(M.get_weights(a), M.get_weights(b)))
    assert rmse(M.predict(a, x).ravel(), y) < 0.7 * before


def test_learning_rate_decays_per_round_with_a_floor_and_baselines_follow_it_in_epochs():
    # Prepare
    decaying = spec(model={"learning_rate": 0.002}, train={"epochs": 2, "lr_decay": 0.5, "lr_min": 0.0003})
    # Execute
    rates = [M.learning_rate_for(decaying, r) for r in (1, 2, 3, 4)]
    per_epoch = [M.epoch_schedule(decaying)(e) for e in range(6)]
    # Assert
    assert rates == [0.002, 0.001, 0.0005, 0.0003]
    assert per_epoch == [0.002, 0.002, 0.001, 0.001, 0.0005, 0.0005]
    assert M.learning_rate_for(SPEC, 7) == SPEC.params.model.resolved().learning_rate  # no decay: constant


def test_optional_regularizers_keep_the_weight_layout_and_train_deterministically():
    # Prepare
    reg = spec(model={"l2": 1e-3, "input_noise": 0.05, "conv_dropout": 0.1})
    x, y = _data()
    # Execute
    a, b = M.build_model(reg, seed=2), M.build_model(reg, seed=2)
    M.train_local(a, x, y, epochs=2, batch_size=16, seed=3, learning_rate=0.01)
    M.train_local(b, x, y, epochs=2, batch_size=16, seed=3, learning_rate=0.01)
    # Assert
    assert [n for n, _ in M.get_weights(a)] == [n for n, _ in M.get_weights(M.build_model(SPEC))]
    assert all(np.array_equal(p, q) for (_, p), (_, q) in zip(M.get_weights(a), M.get_weights(b)))
    assert np.array_equal(M.predict(a, x), M.predict(a, x))  # noise and dropout are off at inference


def test_model_section_keeps_what_the_spec_sets_and_builds_with_the_defaults_for_the_rest():
    # Prepare: a section setting three fields, plus one this version does not read
    section = {"filters": [4], "kernel": 3, "dense": 8, "note": "kept"}
    # Execute
    model = spec(model={"note": "kept"}).params.model
    # Assert
    assert model.to_json() == section  # nothing added, nothing lost: the spec's bytes stay the same
    assert model.resolved() == M.ModelSpec(kind="cnn1d", filters=(4,), kernel=3, dense=8, dropout=0.2, l2=0.001, output_scale=125.0,
                                           output_bias=0.6, learning_rate=0.001, extra=model.extra)
    assert M.DEFAULT_MODEL.to_json()["filters"] == [32, 32]


@pytest.mark.parametrize("model,error", [
    ({"kind": "transformer"}, '"model.kind" must be one of cnn1d, gru, mlp, got "transformer"'),
    ({"filters": []}, '"model.filters" must be a non-empty list of integers >= 1, got []'),
    ({"dropout": "0.2"}, '"model.dropout" must be a number >= 0, got "0.2"'),
    ({"learning_rate": 0}, '"model.learning_rate" must be a number > 0, got 0'),
    ({"classes": True}, '"model.classes" must be an integer >= 0, got true'),
])
def test_model_section_with_a_wrong_field_is_refused_naming_it(model, error):
    from fl_node.spec import SpecError

    with pytest.raises(SpecError) as caught:
        spec(model=model)
    assert caught.value.message == f"task spec: {error}" and caught.value.hint
