from hypothesis import given, strategies as st

from tasks.rul import partition


@given(st.sets(st.integers(1, 500), min_size=4, max_size=60), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_iid_split_is_a_seeded_balanced_partition(units, n, seed):
    # Execute
    parts = partition.split_iid(sorted(units), n, seed)
    # Assert
    assert sorted(u for p in parts for u in p) == sorted(units)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == partition.split_iid(sorted(units, reverse=True), n, seed)


def test_iid_split_depends_on_seed():
    units = list(range(1, 81))
    assert partition.split_iid(units, 4, 1) != partition.split_iid(units, 4, 2)


def test_split_by_life_gives_contiguous_life_blocks():
    # Prepare
    lives = {1: 300, 2: 130, 3: 200, 4: 150, 5: 250, 6: 180, 7: 130, 8: 400}
    # Execute
    parts = partition.split_by_life(lives, 4)
    # Assert
    assert parts == [[2, 7], [4, 6], [3, 5], [1, 8]]
    assert all(max(lives[u] for u in a) <= min(lives[u] for u in b) for a, b in zip(parts, parts[1:]))


@given(st.lists(st.sets(st.integers(1, 10**6), min_size=5, max_size=30), min_size=1, max_size=5), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_folds_hold_out_every_engine_once_and_the_same_share_of_every_factory(owned, n_folds, seed):
    # Prepare: disjoint owners
    seen: set[int] = set()
    owners = []
    for units in owned:
        owners.append(sorted(units - seen))
        seen |= units
    if any(len(o) < n_folds for o in owners):
        return
    # Execute
    folds = [partition.fold_holdout(owners, n_folds, k, seed) for k in range(n_folds)]
    # Assert
    assert sorted(u for f in folds for u in f) == sorted(seen)
    for o in owners:
        shares = [len(set(f) & set(o)) for f in folds]
        assert max(shares) - min(shares) <= 1
    assert folds[0] == partition.fold_holdout(owners, n_folds, 0, seed)


def test_fold_holdout_rejects_impossible_folds():
    import pytest

    with pytest.raises(ValueError, match="folds"):
        partition.fold_holdout([[1, 2], [3, 4, 5]], 3, 0, seed=0)
    with pytest.raises(ValueError, match="fold 5"):
        partition.fold_holdout([[1, 2, 3]], 3, 5, seed=0)
