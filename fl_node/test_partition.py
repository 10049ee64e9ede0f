from hypothesis import given, strategies as st

from fl_node import partition


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


def test_holdout_is_disjoint_and_seeded():
    train, test = partition.holdout(list(range(1, 101)), 20, seed=3)
    assert len(test) == 20 and len(train) == 80 and not set(train) & set(test)
    assert (train, test) == partition.holdout(list(range(100, 0, -1)), 20, seed=3)
