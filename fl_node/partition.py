"""Split engines across factories. Pure: ids (and lives) in, one sorted id list per factory out."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _check(n_factories: int, n_items: int) -> None:
    if n_factories < 1 or n_factories > n_items:
        raise ValueError(f"cannot split {n_items} engines across {n_factories} factories")


def _blocks(ordered: Sequence[int], n_factories: int) -> list[list[int]]:
    # array_split keeps sizes within one of each other
    return [sorted(int(u) for u in part) for part in np.array_split(np.asarray(ordered, dtype=np.int64), n_factories)]


def split_iid(units: Sequence[int], n_factories: int, seed: int) -> list[list[int]]:
    """Seeded shuffle, then equal blocks: every factory sees the same distribution of engines."""
    _check(n_factories, len(units))
    ordered = np.random.default_rng(seed).permutation(sorted(units))
    return _blocks(ordered.tolist(), n_factories)


def split_by_life(lives: Mapping[int, int], n_factories: int) -> list[list[int]]:
    """Non-IID: sort engines by life length (ties by id) and give each factory a contiguous block,
    so factory 0 only has short-lived engines and the last factory only long-lived ones."""
    _check(n_factories, len(lives))
    ordered = sorted(lives, key=lambda u: (lives[u], u))
    return _blocks(ordered, n_factories)


def holdout(units: Sequence[int], n_test: int, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split into (train units, held-out test units), both sorted."""
    if not 0 <= n_test <= len(units):
        raise ValueError(f"cannot hold out {n_test} of {len(units)} engines")
    ordered = np.random.default_rng(seed).permutation(sorted(units)).tolist()
    return sorted(ordered[n_test:]), sorted(ordered[:n_test])
