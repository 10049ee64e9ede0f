"""In-memory federated experiments of the bearing-state classifier on simulated vibration.

`run_state_classifier`: factories at one operating point (a smoke test of the federated classifier).
`run_factories`: factories that run the same bearing at different operating points (speed, load, background noise,
ambient temperature, structural resonance; `FACTORIES`) and have seen the states in different proportions (a few
failures at most), trained federatedly, centrally (the upper bound nobody can have) and by each factory alone; all
scored on fresh windows from every factory's operating point (the fleet) and on each factory's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.modelfile import Named
from fl_node.trainer import memory_round
from tasks import model as M
from tasks.bearing import classifier as sc
from tasks.bearing import vibration as vib
from tasks.bearing.spec import BearingSpec
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
    net = M.build_model(spec)
    M.set_weights(net, federated(spec, data, rounds, epochs, seed))
    test_w, test_y = vib.simulate_dataset(windows_per_state, np.random.default_rng(seed * 100 + 99), n=n)
    return sc.report(sc.classify(spec, net, sc.feature_matrix(test_w)), test_y)


@dataclass(frozen=True)
class Factory:
    name: str
    condition: vib.Condition
    windows: tuple[int, int, int, int]  # training windows per state (healthy, degraded, critical, failure)


# Four sites running the same SKF 6205 at different points; each has seen mostly healthy running, a few critical
# windows and at most a handful of failures, and one has never recorded a failure.
FACTORIES: tuple[Factory, ...] = (
    Factory("plant-1 rated", vib.Condition(rpm=1797, load=1.0, noise=1.0, ambient_c=0.0, resonance_hz=3000), (40, 20, 10, 4)),
    Factory("plant-2 slow, light", vib.Condition(rpm=1200, load=0.7, noise=1.5, ambient_c=5.0, resonance_hz=2600), (40, 16, 8, 0)),
    Factory("plant-3 fast, heavy", vib.Condition(rpm=2400, load=1.2, noise=0.8, ambient_c=-3.0, resonance_hz=3500), (30, 20, 12, 6)),
    Factory("plant-4 noisy floor", vib.Condition(rpm=1500, load=0.9, noise=2.0, ambient_c=10.0, resonance_hz=4000), (36, 12, 10, 3)),
)


def simulate(factory: Factory, counts, rng: np.random.Generator, n: int = 4096) -> Features:
    """Windows at the factory's operating point, with speed and load as inputs (`classifier.OPERATING`)."""
    windows, y = vib.simulate_dataset(counts, rng, n=n, condition=factory.condition)
    return Features(sc.feature_matrix(windows, condition=factory.condition, operating=True), y)


def federated(spec: BearingSpec, data: list[Features], rounds: int, epochs: int, seed: int) -> Named:
    """`rounds` of fedavg over the one local update, factory i with trainer seed `seed * len(data) + i`."""
    trainers = [trainer_for(spec, d) for d in data]
    seeds = [seed * len(data) + i for i in range(len(data))]
    named = M.get_weights(M.build_model(spec, seed=seed))
    for r in range(1, rounds + 1):
        named = memory_round(trainers, seeds, named, r, epochs)
    return named


def alone(spec: BearingSpec, data: Features, epochs: int, seed: int) -> Named:
    """One party's model trained without anyone else for `epochs` (the federation's rounds x local epochs), in one go
    with one optimizer, as the RUL baselines (`tasks.rul.experiment.solo_train`)."""
    net = M.build_model(spec, seed=seed)
    M.train_local(net, spec.params.standardization.apply(data.x), data.y, epochs, spec.train.batch_size, seed, spec.params.model.resolved().learning_rate,
                  classes=len(vib.STATES))
    return M.get_weights(net)


def run_factories(factories: tuple[Factory, ...] = FACTORIES, test_per_state: int = 50, rounds: int = 20, epochs: int = 2, seed: int = 0, n: int = 4096) -> dict:
    """Federated vs centralized vs each factory alone (standardized with its own statistics), each scored on the
    fleet's fresh test windows (`test_per_state` per state at every factory's operating point) and per factory."""
    rng = lambda i: np.random.default_rng([seed, i])
    train = [simulate(f, f.windows, rng(i), n) for i, f in enumerate(factories)]
    tests = [simulate(f, [test_per_state] * len(vib.STATES), rng(100 + i), n) for i, f in enumerate(factories)]
    fleet = Features(np.concatenate([t.x for t in tests]), np.concatenate([t.y for t in tests]))

    def score(spec: BearingSpec, named: Named) -> dict:
        net = M.build_model(spec)
        M.set_weights(net, named)
        out = sc.report(sc.classify(spec, net, fleet.x), fleet.y)
        out["per_factory_accuracy"] = [sc.report(sc.classify(spec, net, t.x), t.y)["accuracy"] for t in tests]
        return out

    spec = sc.make_spec(combine_stats([sc.local_feature_stats(d.x, operating=True) for d in train]))
    pooled = Features(np.concatenate([d.x for d in train]), np.concatenate([d.y for d in train]))
    own_specs = [sc.make_spec(sc.local_feature_stats(d.x, operating=True)) for d in train]
    return {
        "federated": score(spec, federated(spec, train, rounds, epochs, seed)),
        "centralized": score(spec, alone(spec, pooled, rounds * epochs, seed)),
        "alone": [score(s, alone(s, d, rounds * epochs, seed)) for s, d in zip(own_specs, train)],
        "factories": [{"name": f.name, "condition": vars(f.condition), "train_windows": dict(zip(vib.STATES, f.windows))} for f in factories],
        "test_windows": int(len(fleet.y)),
    }
