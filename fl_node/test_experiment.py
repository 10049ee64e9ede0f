import numpy as np

from fl_node import cmapss, experiment
from fl_node.modelfile import encode_weights
from fl_node.test_cmapss import _write


def _engines(tmp_path):
    return cmapss.load_file(_write(tmp_path / "t.txt", {u: 20 + 3 * u for u in range(1, 11)}))


def test_prepare_splits_windows_and_builds_a_spec(tmp_path):
    # Execute
    s = experiment.prepare(_engines(tmp_path), n_factories=2, n_test=2, split="life", window=5, truncations=3, model={"filters": [2], "dense": 4})
    # Assert
    assert [len(f) for f in s.factories] == [4, 4]
    assert max(s.factories[0]) < min(s.factories[1])  # lives grow with id in the fixture
    assert s.test_x.shape == (6, 5, len(s.spec["normalization"]["features"])) and len(s.test_y) == 6
    assert s.spec["model"]["filters"] == [2] and s.spec["window"] == 5


def test_federated_training_is_reproducible(tmp_path):
    # Prepare
    s = experiment.prepare(_engines(tmp_path), n_factories=2, n_test=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
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
    s = experiment.prepare(_engines(tmp_path), n_factories=2, n_test=2, window=5, truncations=1, model={"filters": [2], "dense": 4})
    x, y = s.factory_data[0]
    # Execute
    one = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2)
    restarted = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2, restart_optimizer=True)
    again = experiment.solo_train(s.spec, x, y, 4, seed=1, epochs_per_round=2, restart_optimizer=True)
    # Assert
    assert encode_weights(restarted) == encode_weights(again)
    assert encode_weights(restarted) != encode_weights(one)
    assert [n for n, _ in restarted] == [n for n, _ in one]
