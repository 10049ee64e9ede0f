import numpy as np
import pytest

from fl_node import server_opt as so
from fl_node.aggregate import AggregationError
from fl_node.modelfile import decode_weights, encode_weights


def _named(*values):
    return [("00.dense.kernel", np.array(values, np.float32))]


def test_plain_fedavg_keeps_the_average():
    history = [(_named(1.0, 2.0), _named(0.5, 1.0))]
    assert so.server_step(None, history) is history[-1][1]
    assert so.server_step({"optimizer": "fedavg"}, history) is history[-1][1]


def test_fedavgm_without_history_is_a_scaled_fedavg_step():
    # base 1, average 0.5: delta 0.5; lr 1, no momentum yet -> the average
    out = so.fedavgm(_named(1.0, -2.0), _named(0.5, -1.0), None, lr=1.0, momentum=0.9)
    np.testing.assert_array_equal(out[0][1], np.array([0.5, -1.0], np.float32))
    half = so.fedavgm(_named(1.0, -2.0), _named(0.5, -1.0), None, lr=0.5, momentum=0.9)
    np.testing.assert_array_equal(half[0][1], np.array([0.75, -1.5], np.float32))


def test_fedavgm_momentum_is_the_last_step_taken():
    # Prepare: x0 = 4 -> x1 = 3 (step v1 = 1); round 2 averages to 2.5 (delta 0.5); worked out by hand:
    # v2 = 0.5 * 1 + 0.5 = 1.0, x2 = 3 - 1.0 = 2.0 (lr 1); with lr 0.5: v1 = (4 - 3) / 0.5 = 2, v2 = 0.5 * 2 + 0.5 = 1.5, x2 = 3 - 0.75
    x0, x1, avg2 = _named(4.0), _named(3.0), _named(2.5)
    # Execute
    lr1 = so.fedavgm(x1, avg2, x0, lr=1.0, momentum=0.5)
    lr_half = so.fedavgm(x1, avg2, x0, lr=0.5, momentum=0.5)
    # Assert
    assert lr1[0][1][0] == np.float32(2.0) and lr_half[0][1][0] == np.float32(2.25)


def test_fedavgm_equals_the_stateful_optimizer_it_derives_its_state_from():
    # Prepare: a stateful server momentum run over 5 rounds of random averages, in float64
    rng = np.random.default_rng(0)
    lr, beta = 0.7, 0.9
    x, v, models = rng.normal(size=3), np.zeros(3), []
    averages = [x + rng.normal(size=3) for _ in range(5)]
    for avg in averages:
        models.append(x.copy())
        v = beta * v + (x - avg)
        x = x - lr * v
    # Execute: each round's step from chain-visible models only (the two latest global models)
    f64 = lambda a: [("w", np.asarray(a, np.float64))]
    derived = [so.fedavgm(f64(models[t]), f64(averages[t]), f64(models[t - 1]) if t else None, lr, beta) for t in range(5)]
    # Assert
    for t in range(4):
        np.testing.assert_allclose(derived[t][0][1], models[t + 1], rtol=1e-12)
    np.testing.assert_allclose(derived[4][0][1], x, rtol=1e-12)


def test_fedadam_replays_its_moments_from_the_rounds():
    # Prepare: one coordinate, delta 1 then 1: m1 = 0.1, v1 = 0.01, m2 = 0.19, v2 = 0.0199; x2 = base2 - lr m2 / (sqrt(v2) + tau)
    rounds = [(_named(2.0), _named(1.0)), (_named(1.5), _named(0.5))]
    # Execute
    out = so.fedadam(rounds, lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    # Assert
    expected = 1.5 - 0.1 * 0.19 / (np.sqrt(0.0199) + 1e-3)
    assert out[0][1][0] == np.float32(expected)


def test_fedadam_replayed_from_the_rounds_equals_the_stateful_optimizer_every_round():
    # Prepare: a stateful FedAdam server (m, v kept in memory) over 5 rounds of random averages, in float64
    rng = np.random.default_rng(2)
    lr, b1, b2, tau = 0.05, 0.9, 0.99, 1e-3
    x, m, v, history, models = rng.normal(size=4), np.zeros(4), np.zeros(4), [], []
    for _ in range(5):
        avg = x + rng.normal(size=4)
        history.append(([("w", x.copy())], [("w", avg)]))
        delta = x - avg
        m, v = b1 * m + (1 - b1) * delta, b2 * v + (1 - b2) * delta * delta
        x = x - lr * m / (np.sqrt(v) + tau)
        models.append(x.copy())
    # Execute: an aggregator that joins at round t knows only the chain's rounds 1..t and replays the moments
    replayed = [so.fedadam(history[: t + 1], lr, b1, b2, tau)[0][1] for t in range(5)]
    # Assert: the same global model every round as the optimizer that kept its state, and the state matters (round 3
    # from its own round alone, as an aggregator without the replay would compute, differs)
    for t in range(5):
        np.testing.assert_allclose(replayed[t], models[t], rtol=1e-12)
    assert not np.allclose(so.fedadam(history[2:3], lr, b1, b2, tau)[0][1], models[2])


def test_aggregators_with_their_own_copies_of_the_chain_compute_the_same_bytes():
    # Prepare: three aggregators each decode the history from the stored bytes (no shared objects)
    rng = np.random.default_rng(3)
    m = lambda: [("00.conv1d.kernel", rng.normal(size=(3, 2, 4)).astype(np.float32)), ("00.conv1d.bias", rng.normal(size=4).astype(np.float32))]
    stored = [(encode_weights(m()), encode_weights(m())) for _ in range(4)]
    specs = [{"optimizer": "fedavgm", "lr": 0.8, "momentum": 0.9}, {"optimizer": "fedadam", "lr": 0.01}]
    for spec in specs:
        # Execute
        outs = [encode_weights(so.server_step(spec, [(decode_weights(b), decode_weights(a)) for b, a in stored])) for _ in range(3)]
        # Assert
        assert len(set(outs)) == 1 and outs[0] != stored[-1][1]


def test_server_step_is_byte_identical_across_calls_and_reads_the_spec():
    # Prepare
    rng = np.random.default_rng(1)
    m = lambda: [("a", rng.normal(size=(4, 3)).astype(np.float32)), ("b", rng.normal(size=3).astype(np.float32))]
    history = [(m(), m()), (m(), m()), (m(), m())]
    spec = {"optimizer": "fedavgm", "lr": 1.0, "momentum": 0.9}
    adam = {"optimizer": "fedadam", "lr": 0.01}
    # Execute
    a, b = so.server_step(spec, history), so.server_step(spec, [(x, y) for x, y in history])
    c = so.server_step(adam, history)
    # Assert
    assert encode_weights(a) == encode_weights(b) and [n for n, _ in a] == ["a", "b"]
    assert all(arr.dtype == np.float32 for _, arr in a + c)
    assert decode_weights(encode_weights(c))[0][0] == "a"
    assert encode_weights(a) != encode_weights(history[-1][1])  # momentum moved it beyond the average


@pytest.mark.parametrize("server,match", [
    ({"optimizer": "sgd"}, "unknown server optimizer 'sgd'"),
    ({"optimizer": "fedavgm", "momentum": 1.0}, "momentum"),
    ({"optimizer": "fedadam", "tau": 0}, "tau"),
    ({"optimizer": "fedavgm", "beta1": 0.9}, "fedavgm has no parameter 'beta1'"),
    ({"optimizer": "fedadam", "lr": "0.1"}, "must be numbers"),
])
def test_bad_server_optimizer_settings_are_refused(server, match):
    assert match in (so.config_problem(server) or "")
    with pytest.raises(AggregationError, match=match):
        so.server_step(server, [(_named(1.0), _named(0.5))])


def test_models_of_another_layout_are_refused():
    with pytest.raises(AggregationError, match="disagree"):
        so.fedavgm(_named(1.0, 2.0), [("other", np.zeros(2, np.float32))], None)
