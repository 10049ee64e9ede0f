import numpy as np
import pytest

from tasks.rul import cmapss
from tasks.rul import experiment
from tasks import model as M
from fl_node.modelfile import encode_weights
from tasks.rul.test_cmapss import _write


def _engines(tmp_path):
    return cmapss.load_file(_write(tmp_path / "t.txt", {u: 20 + 3 * u for u in range(1, 11)}))


def test_prepare_splits_windows_and_builds_a_spec(tmp_path):
    # Execute
    s = experiment.prepare(_engines(tmp_path), n_factories=2, split="life", folds=5, fold=1, window=5, truncations=3, model={"filters": [2], "dense": 4})
    # Assert: each factory owns 5 engines (by life) and gives one to the fold's test set
    assert [len(f) for f in s.factories] == [4, 4]
    assert max(s.factories[0]) < min(s.factories[1])  # lives grow with id in the fixture
    assert len(s.test_units) == 2 and s.test_units[0] <= 5 < s.test_units[1]
    assert not set(s.test_units) & {u for f in s.factories for u in f}
    assert s.test_x.shape == (6, 5, len(s.spec.params.normalization.features)) and len(s.test_y) == 6
    assert s.spec.params.model.filters == (2,) and s.spec.params.window == 5


def test_federated_training_is_reproducible_and_reports_each_round(tmp_path):
    # Prepare
    s = experiment.prepare(_engines(tmp_path), n_factories=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
    seen = []
    # Execute
    a = experiment.federated_train(s.spec, s.factory_data, rounds=2, epochs=1, seed=1, on_round=lambda r, w: seen.append((r, w)))
    b = experiment.federated_train(s.spec, s.factory_data, rounds=2, epochs=1, seed=1)
    # Assert: each round's global model is reported, the last one is the result, and the rounds differ
    assert [r for r, _ in seen] == [0, 1]
    assert encode_weights(a) == encode_weights(b) == encode_weights(seen[1][1]) != encode_weights(seen[0][1])


def test_a_federation_of_one_is_that_party_training_alone_with_a_fresh_optimizer_every_round(tmp_path):
    # Prepare
    s = experiment.prepare(_engines(tmp_path), n_factories=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
    x, y = s.factory_data[0]
    # Execute
    fed = experiment.federated_train(s.spec, [(x, y)], rounds=2, epochs=1, seed=3)
    solo = experiment.solo_train(s.spec, x, y, 2, seed=3, epochs_per_round=1, restart_optimizer=True)
    # Assert: same initial model, local seeds, learning rate per round; fedavg of one update is that update
    assert encode_weights(fed) == encode_weights(solo)


def test_evaluate_named_of_a_constant_model_is_the_rmse_of_that_constant(tmp_path):
    # Prepare: all weights zero except the output bias: every window is predicted 0.5 * output_scale
    s = experiment.prepare(_engines(tmp_path), n_factories=2, window=5, truncations=3, model={"filters": [2], "dense": 4})
    named = [(name, np.zeros_like(a)) for name, a in M.get_weights(M.build_model(s.spec))]
    named[-1] = (named[-1][0], np.array([0.5], np.float32))
    constant = 0.5 * s.spec.params.model.output_scale
    # Execute
    out = experiment.evaluate_named(s.spec, named, s.test_x, s.test_y)
    # Assert
    np.testing.assert_array_equal(experiment.predict_named(s.spec, named, s.test_x), np.full(len(s.test_y), constant))
    assert out["rmse"] == pytest.approx(float(np.sqrt(np.mean((constant - s.test_y) ** 2))), rel=1e-12)
    assert out["rmse"] > 0 and len(set(s.test_y)) > 1


def test_solo_train_can_restart_its_optimizer_every_round_like_a_node(tmp_path):
    # Prepare
    s = experiment.prepare(_engines(tmp_path), n_factories=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
    x, y = s.factory_data[0]
    # Execute
    one = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2)
    restarted = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2, restart_optimizer=True)
    again = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2, restart_optimizer=True)
    # Assert
    assert encode_weights(restarted) == encode_weights(again)
    assert encode_weights(restarted) != encode_weights(one)
    assert [n for n, _ in restarted] == [n for n, _ in one]


def test_cross_validation_tests_every_engine_once_and_pools_the_metrics(tmp_path):
    # Prepare
    engines = _engines(tmp_path)
    kw = dict(n_factories=2, window=5, truncations=2, model={"filters": [2], "dense": 4})
    seen = []
    # Execute
    out = experiment.cross_validate(engines, "iid", rounds=1, epochs=1, folds=2, on_fold=seen.append, **kw)
    # Assert: fold k evaluates exactly the windows `prepare` holds out for fold k, with its factories' training data;
    # the folds' held-out engines are disjoint and cover all 10 engines (x 2 cuts = 20 windows)
    setups = [experiment.prepare(engines, split="iid", folds=2, fold=k, **kw) for k in range(2)]
    assert [r.fold for r in seen] == [0, 1]
    for r, s in zip(seen, setups):
        np.testing.assert_array_equal(r.y, s.test_y)
        assert r.factory_windows == [len(x) for x, _ in s.factory_data]
        assert len(r.fed) == len(r.central) == len(r.local[0]) == len(r.local[1]) == len(r.y)
    assert sorted(setups[0].test_units + setups[1].test_units) == list(range(1, 11))
    # the reported metrics are those of the folds it ran (summarize is checked on hand-made predictions below)
    assert {k: v for k, v in out.items() if k != "seconds"} == {k: v for k, v in experiment.summarize(seen).items() if k != "seconds"}
    assert out["test_windows"] == 20 and len(out["local_rmse"]) == 2


def test_summarize_is_pure_over_fold_predictions():
    # Prepare: a perfect federation, a centralized model off by 1, factories off by 2 and 4
    y = np.array([10.0, 20.0, 30.0])
    r = experiment.FoldResult(0, y, y.copy(), y + 1, [y + 2, y - 4], [3, 3], 0.5)
    # Execute
    out = experiment.summarize([r, r])
    # Assert
    assert (out["fed_rmse"], out["central_rmse"], out["local_rmse"], out["local_rmse_best"]) == (0.0, 1.0, [2.0, 4.0], 2.0)
    assert out["fed_vs_central"] == -1.0 and out["folds_fed_beats_every_factory"] == 2 and out["test_windows"] == 6
    # PHM08 per 100 windows: perfect 0; one cycle late everywhere exp(1/10) - 1 = 0.10517 per window
    assert (out["fed_score"], out["central_score"]) == (0.0, 10.5)
    # a fold where one factory does better than the federation does not count
    worse = experiment.FoldResult(1, y, y + 3, y + 1, [y + 2, y - 4], [3, 3], 0.5)
    assert experiment.summarize([r, worse])["folds_fed_beats_every_factory"] == 1


def test_holdout_files_are_the_setups_first_truncation(tmp_path):
    # Prepare
    engines = _engines(tmp_path)
    s = experiment.prepare(engines, n_factories=2, seed=3, fold=1, window=5, truncations=2, model={"filters": [2], "dense": 4})
    # Execute
    test_path, rul_path = experiment.write_holdout_files(engines, s, tmp_path / "out", seed=3, fold=1)
    # Assert: the files hold the same cut windows and capped RULs the experiment evaluates first
    from tasks.rul.evaluate import test_set

    x, y = test_set(s.spec, cmapss.load_file(test_path), cmapss.load_rul_file(rul_path))
    n = len(s.test_units)
    np.testing.assert_array_equal(x, s.test_x[:n])
    np.testing.assert_array_equal(y, s.test_y[:n])
