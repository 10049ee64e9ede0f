import numpy as np

from fl_node import cmapss, experiment
from fl_node.modelfile import encode_weights
from fl_node.test_cmapss import _write


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
    assert s.test_x.shape == (6, 5, len(s.spec["normalization"]["features"])) and len(s.test_y) == 6
    assert s.spec["model"]["filters"] == [2] and s.spec["window"] == 5


def test_federated_training_is_reproducible(tmp_path):
    # Prepare
    s = experiment.prepare(_engines(tmp_path), n_factories=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
    seen = []
    # Execute
    a = experiment.federated_train(s.spec, s.factory_data, rounds=2, epochs=1, seed=1, on_round=lambda r, w: seen.append(r))
    b = experiment.federated_train(s.spec, s.factory_data, rounds=2, epochs=1, seed=1)
    # Assert
    assert seen == [0, 1]
    assert encode_weights(a) == encode_weights(b)
    assert np.isfinite(experiment.evaluate_named(s.spec, a, s.test_x, s.test_y)["rmse"])


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
    seen = []
    # Execute
    out = experiment.cross_validate(engines, "iid", rounds=1, epochs=1, folds=2, n_factories=2, window=5, truncations=2,
                                    model={"filters": [2], "dense": 4}, on_fold=seen.append)
    # Assert: 10 engines x 2 cuts, each engine in exactly one fold's test set
    assert [r.fold for r in seen] == [0, 1] and out["test_windows"] == 20
    y = np.concatenate([r.y for r in seen])
    assert out["fed_rmse"] == round(float(np.sqrt(np.mean((np.concatenate([r.fed for r in seen]) - y) ** 2))), 3)
    assert out["local_rmse_best"] == min(out["local_rmse"]) and len(out["local_rmse"]) == 2
    assert len(out["per_fold"]) == 2 and 0 <= out["folds_fed_beats_every_factory"] <= 2


def test_summarize_is_pure_over_fold_predictions():
    # Prepare: a perfect federation, a centralized model off by 1, factories off by 2 and 4
    y = np.array([10.0, 20.0, 30.0])
    r = experiment.FoldResult(0, y, y.copy(), y + 1, [y + 2, y - 4], [3, 3], 0.5)
    # Execute
    out = experiment.summarize([r, r])
    # Assert
    assert (out["fed_rmse"], out["central_rmse"], out["local_rmse"], out["local_rmse_best"]) == (0.0, 1.0, [2.0, 4.0], 2.0)
    assert out["fed_vs_central"] == -1.0 and out["folds_fed_beats_every_factory"] == 2 and out["test_windows"] == 6


def test_holdout_files_are_the_setups_first_truncation(tmp_path):
    # Prepare
    engines = _engines(tmp_path)
    s = experiment.prepare(engines, n_factories=2, seed=3, fold=1, window=5, truncations=2, model={"filters": [2], "dense": 4})
    # Execute
    test_path, rul_path = experiment.write_holdout_files(engines, s, tmp_path / "out", seed=3, fold=1)
    # Assert: the files hold the same cut windows and capped RULs the experiment evaluates first
    from fl_node.evaluate import test_set

    x, y = test_set(s.spec, cmapss.load_file(test_path), cmapss.load_rul_file(rul_path))
    n = len(s.test_units)
    np.testing.assert_array_equal(x, s.test_x[:n])
    np.testing.assert_array_equal(y, s.test_y[:n])
