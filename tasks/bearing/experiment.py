"""In-memory federated experiment of the bearing-state classifier on simulated vibration."""

from __future__ import annotations

import numpy as np

from fl_node.trainer import memory_round
from tasks import model as M
from tasks.bearing import classifier as sc
from tasks.bearing import vibration as vib
from tasks.bearing.trainer import Features, trainer_for
from tasks.stats import combine_stats


def run_state_classifier(n_factories: int = 3, windows_per_state: int = 20, rounds: int = 3, epochs: int = 10, seed: int = 0, n: int = 2048) -> dict:
    """Federated bearing-state classifier: each factory simulates its own windows, standardization comes from the
    combined statistics, `rounds` of fedavg over the one local update; per-class recall and false-alarm rate on
    freshly simulated test windows."""
    data = []
    for i in range(n_factories):
        windows, y = vib.simulate_dataset(windows_per_state, np.random.default_rng(seed * 100 + i + 1), n=n)
        data.append(Features(sc.feature_matrix(windows), y))
    spec = sc.make_spec(combine_stats([sc.local_feature_stats(d.x) for d in data]))
    trainers = [trainer_for(spec, d) for d in data]
    seeds = [seed * n_factories + i for i in range(n_factories)]
    global_named = M.get_weights(M.build_model(spec, seed=seed))
    for r in range(1, rounds + 1):
        global_named = memory_round(trainers, seeds, global_named, r, epochs)
    net = M.build_model(spec)
    M.set_weights(net, global_named)
    test_w, test_y = vib.simulate_dataset(windows_per_state, np.random.default_rng(seed * 100 + 99), n=n)
    return sc.report(sc.classify(spec, net, sc.feature_matrix(test_w)), test_y)
