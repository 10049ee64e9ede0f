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


def fold_holdout(owners: Sequence[Sequence[int]], n_folds: int, fold: int, seed: int) -> list[int]:
    """Stratified k-fold over data owners: each factory's engines are shuffled (seeded) and dealt into `n_folds`
    blocks; fold k holds out block k of every factory. Across the folds every engine is held out exactly once, each
    test set takes the same share (+-1) of every factory, and a factory stays the same data owner in every fold."""
    if n_folds < 2 or any(len(o) < n_folds for o in owners):
        raise ValueError(f"cannot make {n_folds} folds: need at least 2 and every factory needs one engine per fold")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} is not in 0..{n_folds - 1}")
    rng = np.random.default_rng(seed)
    held = [int(u) for owned in owners for u in np.array_split(rng.permutation(sorted(owned)), n_folds)[fold]]
    return sorted(held)
