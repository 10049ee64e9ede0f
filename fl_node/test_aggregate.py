import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fl_node import aggregate as agg
from fl_node.modelfile import encode_weights


def _update(seed: int, n: int = 10, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    return ([("00.dense.kernel", (scale * rng.normal(size=(3, 2))).astype(np.float32)), ("00.dense.bias", rng.normal(size=2).astype(np.float32))], n)


def test_fedavg_is_the_exact_sample_weighted_mean():
    # Prepare
    a = ([("w", np.array([1.0, 2.0], np.float32))], 1)
    b = ([("w", np.array([4.0, 8.0], np.float32))], 3)
    # Execute
    out = agg.fedavg([a, b])
    # Assert
    assert out[0][0] == "w" and out[0][1].dtype == np.float32
    np.testing.assert_array_equal(out[0][1], np.array([3.25, 6.5], np.float32))


def test_fedavg_keeps_names_order_and_dtypes():
    out = agg.fedavg([_update(1), _update(2, n=30)])
    assert [n for n, _ in out] == ["00.dense.kernel", "00.dense.bias"]
    assert all(a.dtype == np.float32 for _, a in out)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 5000)), min_size=1, max_size=6))
def test_result_bytes_depend_only_on_the_sorted_input(items):
    # Prepare: callers sort by trainer address; any arrival order must give the same sorted list
    updates = {f"0x{i:040x}": _update(seed, n) for i, (seed, n) in enumerate(items)}
    shuffled = list(updates.items())[::-1]
    # Execute
    a = agg.fedavg([u for _, u in sorted(updates.items())])
    b = agg.fedavg([u for _, u in sorted(shuffled)])
    # Assert
    assert encode_weights(a) == encode_weights(b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=1, max_size=6), st.integers(0, 1000))
def test_fedavg_of_identical_models_is_that_model_and_lies_within_bounds(counts, seed):
    same = [(_update(seed)[0], n) for n in counts]
    out = agg.fedavg(same)
    np.testing.assert_allclose(out[0][1], same[0][0][0][1], rtol=1e-6)
    mixed = [_update(seed + i, n) for i, n in enumerate(counts)]
    stacked = np.stack([u[0][0][1] for u in mixed])
    res = agg.fedavg(mixed)[0][1]
    assert np.all(res >= stacked.min(0) - 1e-6) and np.all(res <= stacked.max(0) + 1e-6)


def test_median_and_trimmed_mean_resist_one_outlier():
    # Prepare
    honest = [_update(1, scale=0.0) for _ in range(4)]
    evil = ([(n, np.full_like(a, 1e6)) for n, a in honest[0][0]], 10)
    # Execute
    med = agg.median(honest + [evil])
    trim = agg.trimmed_mean(honest + [evil], beta=0.2)
    avg = agg.fedavg(honest + [evil])
    # Assert
    assert np.abs(med[0][1]).max() < 1 and np.abs(trim[0][1]).max() < 1
    assert np.abs(avg[0][1]).max() > 1e5


def test_krum_picks_a_honest_update():
    honest = [_update(i, scale=0.01) for i in range(5)]
    evil = ([(n, np.full_like(a, 50.0)) for n, a in honest[0][0]], 10)
    out = agg.krum(honest + [evil], f=1)
    assert np.abs(out[0][1]).max() < 1


@pytest.mark.parametrize(
    "update, reason",
    [
        ([("00.dense.kernel", np.zeros((3, 2), np.float32))], "has 1 arrays"),
        ([("00.dense.kernel", np.zeros((2, 3), np.float32)), ("00.dense.bias", np.zeros(2, np.float32))], "shape"),
        ([("00.dense.kernel", np.zeros((3, 2), np.float64)), ("00.dense.bias", np.zeros(2, np.float32))], "dtype"),
        ([("00.dense.kernel", np.full((3, 2), np.nan, np.float32)), ("00.dense.bias", np.zeros(2, np.float32))], "NaN"),
        ([("00.dense.kernel", np.zeros((3, 2), np.float32)), ("00.dense.bias", np.array([0, np.inf], np.float32))], "Inf"),
        ([("00.other", np.zeros((3, 2), np.float32)), ("00.dense.bias", np.zeros(2, np.float32))], "expected"),
    ],
)
def test_validate_update_names_the_problem(update, reason):
    assert reason in agg.validate_update(_update(0)[0], update)
    assert agg.validate_update(_update(0)[0], _update(5)[0]) is None


def test_select_and_aggregate_excludes_bad_updates_identically_in_any_order():
    # Prepare
    ref = _update(0)[0]
    nan = [(n, np.full_like(a, np.nan)) for n, a in ref]
    cands = [
        agg.Candidate("0xB", _update(2)[0], 20),
        agg.Candidate("0xa", _update(1)[0], 10),
        agg.Candidate("0xC", nan, 10),
        agg.Candidate("0xD", _update(3)[0], 10, bytes_ok=False),
        agg.Candidate("0xE", _update(4)[0], 0),
        agg.Candidate("0xA", _update(9)[0], 10),
    ]
    # Execute
    out1 = agg.select_and_aggregate(ref, cands)
    out2 = agg.select_and_aggregate(ref, cands[::-1])
    # Assert
    assert out1[1] == out2[1] == ["0xA", "0xB"]  # same address in another case counts once: the first in sort order
    assert out1[2] == out2[2]
    assert [t for t, _ in out1[2]] == ["0xa", "0xC", "0xD", "0xE"]
    reasons = dict(out1[2])
    assert "NaN" in reasons["0xC"] and "hash" in reasons["0xD"] and "sample count" in reasons["0xE"]
    assert encode_weights(out1[0]) == encode_weights(out2[0])


def test_select_and_aggregate_with_nothing_valid_returns_none():
    ref = _update(0)[0]
    agg_, inc, exc = agg.select_and_aggregate(ref, [agg.Candidate("0x1", None, 5, bytes_ok=False)])
    assert agg_ is None and inc == [] and len(exc) == 1


def test_rule_by_name_plugs_parameters():
    rule = agg.rule_by_name("trimmed_mean", beta=0.25)
    ups = [_update(i) for i in range(4)]
    assert encode_weights(rule(ups)) == encode_weights(agg.trimmed_mean(ups, beta=0.25))
    with pytest.raises(agg.AggregationError):
        agg.rule_by_name("nope")
