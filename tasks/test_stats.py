import numpy as np
import pytest

from tasks.stats import Stats, StatsError, combine_stats, stats_of


def test_stats_of_rows_and_their_combination_equal_the_pooled_stats():
    # Prepare
    rows = np.arange(30, dtype=np.float64).reshape(10, 3) ** 1.5
    parts = [stats_of(rows[:4], ("a", "b", "c")), stats_of(rows[4:], ("a", "b", "c"))]
    # Execute
    combined = combine_stats(parts)
    # Assert
    pooled = stats_of(rows, ("a", "b", "c"))
    assert combined == combine_stats(parts[::-1])
    assert (combined.count, combined.min, combined.max) == (pooled.count, pooled.min, pooled.max) == (10, tuple(rows.min(0)), tuple(rows.max(0)))
    np.testing.assert_allclose(combined.sumsq, pooled.sumsq, rtol=1e-12)
    np.testing.assert_allclose(combined.mean(), rows.mean(0))
    np.testing.assert_allclose(combined.std(), rows.std(0), rtol=1e-9)
    assert Stats.from_dict(combined.to_dict()) == combined


def test_nothing_or_mismatched_columns_cannot_be_combined():
    with pytest.raises(StatsError, match="no statistics"):
        combine_stats([])
    with pytest.raises(StatsError, match="different columns"):
        combine_stats([stats_of(np.ones((2, 1)), ("a",)), stats_of(np.ones((2, 1)), ("b",))])
