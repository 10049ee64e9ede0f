import inspect
from fractions import Fraction

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


def test_fedavg_weights_distinct_updates_by_sample_count_exactly():
    # Prepare: three distinct updates, two arrays, weights 1, 2, 5 (total 8); means worked out by hand
    a = ([("k", np.array([[0.0, 8.0], [-4.0, 1.0]], np.float32)), ("b", np.array([1.0, -1.0], np.float32))], 1)
    b = ([("k", np.array([[4.0, 0.0], [2.0, 3.0]], np.float32)), ("b", np.array([0.5, 0.5], np.float32))], 2)
    c = ([("k", np.array([[8.0, -8.0], [0.5, 1.0]], np.float32)), ("b", np.array([2.0, 0.0], np.float32))], 5)
    # Execute
    out = agg.fedavg([a, b, c])
    thirds = agg.fedavg([(a[0], 1), (b[0], 1), (([("k", np.full((2, 2), 4.0, np.float32)), ("b", np.zeros(2, np.float32))]), 1)])
    # Assert: (0*1 + 4*2 + 8*5)/8 = 6, (8 + 0 - 40)/8 = -4, (-4 + 4 + 2.5)/8 = 0.3125, (1 + 6 + 5)/8 = 1.5; bias 12/8, 0/8
    np.testing.assert_array_equal(out[0][1], np.array([[6.0, -4.0], [0.3125, 1.5]], np.float32))
    np.testing.assert_array_equal(out[1][1], np.array([1.5, 0.0], np.float32))
    # equal weights: (0 + 4 + 4)/3 = 8/3, (8 + 0 + 4)/3 = 4, (-4 + 2 + 4)/3 = 2/3, (1 + 3 + 4)/3 = 8/3
    expected = [[float(Fraction(8, 3)), 4.0], [float(Fraction(2, 3)), float(Fraction(8, 3))]]
    np.testing.assert_array_equal(thirds[0][1], np.array(expected, np.float32))


def _cancelling(x: float, n: int):
    """A float64 update whose weighted sum with the others depends on the summation order (1e16 + 1 - 1e16)."""
    return ([("w", np.array([x, -x / 2], np.float64))], n)


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(4)))
def test_select_and_aggregate_gives_the_same_bytes_for_any_arrival_order(order):
    # Prepare: values where float addition is not associative, so only a canonical summation order is reproducible
    updates = [_cancelling(1e16, 1), _cancelling(1.0, 1), _cancelling(-1e16, 1), _cancelling(3.0, 2)]
    cands = [agg.Candidate(f"0x{i + 10:x}", named, n) for i, (named, n) in enumerate(updates)]  # 0xa < 0xb < 0xc < 0xd
    ref = updates[0][0]
    # Execute
    out, included, excluded = agg.select_and_aggregate(ref, [cands[i] for i in order])
    # Assert: reduced in address order, whatever the arrival order: in float64 (1e16 + 1) - 1e16 + 3*2 = 6, where
    # 1e16 - 1e16 + 1 + 6 would be 7; likewise (-5e15 - 0.5) + 5e15 - 1.5*2 = -3
    assert included == ["0xa", "0xb", "0xc", "0xd"] and excluded == []
    np.testing.assert_array_equal(out[0][1], np.array([6 / 5, -3 / 5]))
    assert encode_weights(out) == encode_weights(agg.fedavg(updates))


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(5)), st.sampled_from([0.0, 0.2, 0.25, 0.4]))
def test_median_and_trimmed_mean_do_not_depend_on_input_order(order, beta):
    ups = [_update(i, n=10 * (i + 1), scale=10.0 ** (4 * (i % 3))) for i in range(5)]  # magnitudes 1, 1e4, 1e8
    shuffled = [ups[i] for i in order]
    assert encode_weights(agg.median(shuffled)) == encode_weights(agg.median(ups))
    assert encode_weights(agg.trimmed_mean(shuffled, beta=beta)) == encode_weights(agg.trimmed_mean(ups, beta=beta))


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


def test_median_and_trimmed_mean_exact_values_ignore_sample_counts():
    # Prepare: per coordinate values 5, 1, 3, 100, 2 (sorted 1 2 3 5 100) and -2, 7, 7, 0, 4 (sorted -2 0 4 7 7)
    ups = [([("a", np.array([x, y], np.float32))], n) for x, y, n in [(5, -2, 1), (1, 7, 50), (3, 7, 1), (100, 0, 9), (2, 4, 1)]]
    # Execute / Assert: median of five, and of the first four (mean of the middle two: (3 + 5)/2, (0 + 7)/2)
    np.testing.assert_array_equal(agg.median(ups)[0][1], np.array([3, 4], np.float32))
    np.testing.assert_array_equal(agg.median(ups[:4])[0][1], np.array([4, 3.5], np.float32))
    # trimmed mean: beta*5 = 1 value dropped at each end for beta 0.2 and 0.25 ((2+3+5)/3, (0+4+7)/3), none for 0.1
    for beta in (0.2, 0.25):
        np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=beta)[0][1], np.array([10 / 3, 11 / 3], np.float32))
    np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=0.1)[0][1], np.array([111 / 5, 16 / 5], np.float32))
    # beta 0.4: floor(2.0) = 2 dropped at each end, the median is left
    np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=0.4)[0][1], np.array([3, 4], np.float32))


def test_krum_scores_by_the_n_minus_f_minus_2_nearest_over_all_arrays():
    # Prepare: points (a, b) split over two arrays: P0 (0,0) P1 (1,0) P2 (0,2) P3 (3,3) P4 (9,9), sample counts 1, 3, 4, 1, 1.
    # Squared distances: P0-P1 1, P0-P2 4, P1-P2 5, P2-P3 10, P1-P3 13, P0-P3 18, P3-P4 72, ...; with f=1 each point
    # sums its 5-1-2 = 2 nearest: P0 1+4=5, P1 1+5=6, P2 4+5=9, P3 10+13=23, P4 72+130=202.
    points, counts = [(0, 0), (1, 0), (0, 2), (3, 3), (9, 9)], [1, 3, 4, 1, 1]
    ups = [([("a", np.array([a], np.float32)), ("b", np.array([b], np.float32))], n) for (a, b), n in zip(points, counts)]
    # Execute / Assert: the best (P0) alone; multi-Krum fedavgs the m best by sample count
    assert [float(x[1][0]) for x in agg.krum(ups, f=1)] == [0.0, 0.0]
    assert [float(x[1][0]) for x in agg.krum(ups, f=1, m=2)] == [0.75, 0.0]  # (0*1 + 1*3)/4, 0
    assert [float(x[1][0]) for x in agg.krum(ups, f=1, m=3)] == [0.375, 1.0]  # (0 + 3 + 0)/8, (0 + 0 + 8)/8


@pytest.mark.parametrize(
    "update, reason",
    [
        ([("00.dense.kernel", np.zeros((3, 2), np.float32))], "has 1 arrays"),
        ([("00.dense.kernel", np.zeros((2, 3), np.float32)), ("00.dense.bias", np.zeros(2, np.float32))], "shape"),
        ([("00.dense.kernel", np.zeros((3, 2), np.float64)), ("00.dense.bias", np.zeros(2, np.float32))], "dtype"),
        ([("00.dense.kernel", np.array([[0, 1], [np.nan, 2], [3, 4]], np.float32)), ("00.dense.bias", np.zeros(2, np.float32))], "NaN"),
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
    nan = [(n, np.where(np.arange(a.size).reshape(a.shape) == 1, np.nan, a)) for n, a in ref]  # one NaN per array
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


# --- exact values and boundaries of every rule (kill aggregate.py's mutants: `make mutate-py`) ---

def _w(*values, n=1, dtype=np.float32):
    return ([("w", np.array(values, dtype))], n)


def test_layouts_must_agree_from_the_second_update_on():
    with pytest.raises(agg.AggregationError, match="no updates to aggregate"):
        agg.fedavg([])
    with pytest.raises(agg.AggregationError, match="updates disagree on names, shapes or dtypes"):
        agg.fedavg([_w(1.0, 2.0), _w(1.0, 2.0, dtype=np.float64)])
    with pytest.raises(agg.AggregationError, match="updates disagree"):
        agg.median([_w(1.0), _w(1.0), ([("v", np.array([1.0], np.float32))], 1)])


def test_fedavg_sample_count_boundaries():
    np.testing.assert_array_equal(agg.fedavg([_w(2.0, n=3), _w(9.0, n=0)])[0][1], np.array([2.0], np.float32))  # a zero count weighs nothing
    for bad in ([_w(1.0, n=0)], [_w(1.0, n=5), _w(2.0, n=-1)]):
        with pytest.raises(agg.AggregationError, match="sample counts must be non-negative with a positive total"):
            agg.fedavg(bad)


def test_median_is_coordinate_wise_and_keeps_the_dtype():
    ups = [([("w", np.array([[1.0, 9.0], [5.0, 0.0]], np.float32))], 1), ([("w", np.array([[3.0, 2.0], [4.0, 1.0]], np.float32))], 7),
           ([("w", np.array([[2.0, 4.0], [6.0, 8.0]], np.float32))], 1)]
    (name, out), = agg.median(ups)
    assert name == "w" and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[2.0, 4.0], [5.0, 1.0]], np.float32))


def test_trimmed_mean_drops_floor_beta_n_from_each_end():
    ups = [_w(1.0, 10.0), _w(2.0, 20.0), _w(3.0, 30.0), _w(100.0, -50.0), _w(-50.0, 100.0)]
    np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=0.2)[0][1], np.array([2.0, 20.0], np.float32))  # k = 1
    np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=0.19)[0][1], np.array([11.2, 22.0], np.float32))  # k = 0: the mean
    np.testing.assert_array_equal(agg.trimmed_mean(ups, beta=0.0)[0][1], np.array([11.2, 22.0], np.float32))
    np.testing.assert_array_equal(agg.trimmed_mean(ups[:4])[0][1], np.array([26.5, 2.5], np.float32))  # default beta 0.1: k = 0
    np.testing.assert_array_equal(agg.trimmed_mean(ups[:4] * 3, beta=0.49)[0][1], np.array([2.5, 15.0], np.float32))  # k = 5 of 12
    for beta in (0.5, -0.01):
        with pytest.raises(agg.AggregationError, match=r"beta must be in \[0, 0.5\)"):
            agg.trimmed_mean(ups, beta=beta)


def test_krum_scores_by_the_n_minus_f_minus_2_nearest():
    # 1-D points 0, 1, 3, 7, 20: with f=1 each is scored by its 2 nearest squared distances
    ups = [_w(x, n=1) for x in (0.0, 1.0, 3.0, 7.0, 20.0)]
    assert agg.krum(ups, f=1)[0][1].tolist() == [1.0]  # scores 1+9, 1+4, 4+9, 16+36, 169+289: point 1 wins
    assert agg.krum(ups, f=2)[0][1].tolist() == [0.0]  # 1 nearest: 0 and 1 tie at 1, the first wins
    assert agg.krum(ups, f=1, m=2)[0][1].tolist() == [0.5]  # fedavg of the two best (0 and 1)
    assert agg.krum(ups, f=1, m=9)[0][1].tolist() == [float(np.float32(6.2))]  # m capped at n: plain fedavg
    assert agg.krum(ups, f=1, m=0)[0][1].tolist() == [1.0]  # at least one
    assert agg.krum(ups, f=5)[0][1].tolist() == [0.0]  # n-f-2 < 1: still the single nearest
    assert agg.krum([_w(4.0, 2.0, n=3)])[0][1].tolist() == [4.0, 2.0]  # one update: itself
    weighted = agg.krum([_w(0.0, n=1), _w(1.0, n=3), _w(2.0, n=1), _w(50.0, n=1)], f=0, m=3)
    assert weighted[0][1].tolist() == [1.0]  # the m chosen are averaged by their sample counts: (0 + 3 + 2) / 5


def test_rule_by_name_returns_the_rule_itself_without_parameters():
    assert agg.rule_by_name("median") is agg.median and agg.rule_by_name("krum", f=2).keywords == {"f": 2}
    with pytest.raises(agg.AggregationError, match=r"unknown aggregation rule 'nope'; known: \['fedavg', 'krum', 'median', 'trimmed_mean'\]"):
        agg.rule_by_name("nope")


def test_validate_update_messages_are_exact():
    ref = [("a", np.zeros(2, np.float32)), ("b", np.zeros((1, 2), np.int64))]
    assert agg.validate_update(ref, ref[:1]) == "has 1 arrays, expected 2"
    assert agg.validate_update(ref, [ref[0], ("c", ref[1][1])]) == "array 'c' where 'b' was expected"
    assert agg.validate_update(ref, [ref[0], ("b", np.zeros(2, np.int64))]) == "b: shape (2,), expected (1, 2)"
    assert agg.validate_update(ref, [ref[0], ("b", np.zeros((1, 2), np.int32))]) == "b: dtype int32, expected int64"
    assert agg.validate_update(ref, [("a", np.array([1.0, np.inf], np.float32)), ref[1]]) == "a: contains NaN or Inf"
    assert agg.validate_update(ref, [("a", np.array([1.0, 2.0], np.float32)), ("b", np.array([[7, 8]]))]) is None


def test_select_and_aggregate_sample_bounds_and_exact_reasons():
    ref = [("w", np.zeros(1, np.float32))]
    cands = [agg.Candidate("0x1", [("w", np.array([1.0], np.float32))], 1), agg.Candidate("0x2", [("w", np.array([3.0], np.float32))], 3),
             agg.Candidate("0x3", [("w", np.array([5.0], np.float32))], 4), agg.Candidate("0x4", [("w", np.array([7.0], np.float32))], 0),
             agg.Candidate("0x5", None, 2), agg.Candidate("0X1", [("w", np.array([9.0], np.float32))], 1)]
    out, included, excluded = agg.select_and_aggregate(ref, cands, max_samples=3)
    assert included == ["0X1", "0x2"] and out[0][1].tolist() == [4.5]  # (9*1 + 3*3) / 4
    assert excluded == [("0x1", "duplicate update from the same trainer"), ("0x3", "sample count 4 out of range"),
                        ("0x4", "sample count 0 out of range"), ("0x5", "update bytes missing or do not match the committed hash")]
    _, included, _ = agg.select_and_aggregate(ref, cands)  # no upper bound
    assert included == ["0X1", "0x2", "0x3"]
    none, included, excluded = agg.select_and_aggregate(ref, [])
    assert none is None and included == [] and excluded == []


def test_krum_defaults_to_one_byzantine_update_and_at_least_one_neighbour():
    ups = [_w(x) for x in (0.0, 1.0, 3.0, 7.0, 20.0)]
    assert agg.krum(ups)[0][1].tolist() == [1.0]  # f=1 (f=0 would pick 3, f=2 would pick 0)
    assert agg.krum([_w(5.0), _w(0.0), _w(1.0)], f=5)[0][1].tolist() == [0.0]  # scored by 1 neighbour, never by none


def test_candidates_are_immutable():
    with pytest.raises(AttributeError):
        agg.Candidate("0x1", None, 1).num_samples = 2  # type: ignore[misc]


@pytest.mark.parametrize("name,params,n,problem", [
    ("fedavg", {}, None, None),
    ("trimmed_mean", {"beta": 0.49}, 3, None),
    ("trimmed_mean", {"beta": 0}, None, None),
    ("krum", {"f": 1, "m": 2}, 5, None),
    ("krum", {}, 5, None),  # the function's default f=1: 5 > 2*1 + 2
    ("nope", {}, None, "unknown rule 'nope'"),
    ("median", {"beta": 0.1}, None, "median takes no parameter 'beta' (its parameters: none)"),
    ("trimmed_mean", {"b": 0.1}, None, "trimmed_mean takes no parameter 'b' (its parameters: beta)"),
    ("trimmed_mean", {"beta": 0.5}, None, "trimmed_mean's beta must be a number in [0, 0.5), got 0.5"),
    ("trimmed_mean", {"beta": -0.1}, None, "trimmed_mean's beta must be a number in [0, 0.5), got -0.1"),
    ("trimmed_mean", {"beta": True}, None, "trimmed_mean's beta must be a number in [0, 0.5), got True"),
    ("trimmed_mean", {"beta": float("nan")}, None, "trimmed_mean's beta must be a number in [0, 0.5), got nan"),
    ("krum", {"f": 1.0}, None, "krum's f must be an integer in [0, inf), got 1.0"),
    ("krum", {"m": 0}, None, "krum's m must be an integer in [1, inf), got 0"),
    ("krum", {"f": 2}, 6, "krum with f=2 needs more than 6 trainers, the task has 6"),
    ("krum", {}, 4, "krum with f=1 needs more than 4 trainers, the task has 4"),
])
def test_rule_problem_names_what_task_creation_refuses(name, params, n, problem):
    assert agg.rule_problem(name, params, n) == problem


def test_every_rule_has_its_parameter_table_and_every_listed_parameter_exists():
    assert set(agg.RULE_PARAMS) == set(agg.RULES)
    for name, params in agg.RULE_PARAMS.items():
        assert set(params) <= set(inspect.signature(agg.RULES[name]).parameters) - {"updates"}


def test_rules_are_described_for_hints():
    assert agg.describe_rules() == ("fedavg, median, trimmed_mean(beta: a number in [0, 0.5)), krum(f: an integer in [0, inf), m: an integer in [1, inf));"
                                    " krum needs more than 2f + 2 trainers")
