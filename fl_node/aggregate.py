"""Deterministic aggregation of model updates (pure; in the spirit of Flower's server/strategy/aggregate.py).

Every aggregator must compute the same global model bit for bit, so that their votes on its hash agree. Hence:
- updates come in a fixed order (callers sort them by trainer address) and are reduced in exactly that order;
- arithmetic is float64 and each result is cast back to the reference array's dtype;
- a bad update is excluded by the same rule everywhere (`validate_update`), with a reason that can be logged.

A rule is any function `(updates: list[(named_arrays, num_samples)]) -> named_arrays`: `fedavg`, `median`,
`trimmed_mean(beta)`, `krum(f)`, or your own.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping, Sequence

import numpy as np

from fl_node.modelfile import Named
from ground.errors import FedpmError

Update = tuple[Named, int]
Rule = Callable[[Sequence[Update]], Named]


class AggregationError(FedpmError):
    """Programming error: the rule was called with no or inconsistent updates (validate first)."""


def _layout(updates: Sequence[Update]) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    if not updates:
        raise AggregationError("no updates to aggregate")
    layout = [(name, a.shape, a.dtype) for name, a in updates[0][0]]
    for named, _ in updates[1:]:
        if [(name, a.shape, a.dtype) for name, a in named] != layout:
            raise AggregationError("updates disagree on names, shapes or dtypes")
    return layout


def _stack(updates: Sequence[Update], i: int) -> np.ndarray:
    return np.stack([np.asarray(named[i][1], dtype=np.float64) for named, _ in updates])


def fedavg(updates: Sequence[Update]) -> Named:
    """Mean of each array weighted by num_samples, summed in the given order in float64."""
    layout = _layout(updates)
    total = sum(int(n) for _, n in updates)
    if total <= 0 or any(int(n) < 0 for _, n in updates):
        raise AggregationError("sample counts must be non-negative with a positive total")
    out: Named = []
    for i, (name, shape, dtype) in enumerate(layout):
        acc = np.zeros(shape, dtype=np.float64)
        for named, n in updates:  # explicit loop: a fixed summation order, whatever numpy would vectorize
            acc += np.asarray(named[i][1], dtype=np.float64) * float(n)
        out.append((name, (acc / float(total)).astype(dtype)))
    return out


def median(updates: Sequence[Update]) -> Named:
    """Coordinate-wise median (ignores sample counts); robust to < half Byzantine updates. Order-independent."""
    layout = _layout(updates)
    return [(name, np.median(_stack(updates, i), axis=0).astype(dtype)) for i, (name, _, dtype) in enumerate(layout)]


def trimmed_mean(updates: Sequence[Update], beta: float = 0.1) -> Named:
    """Coordinate-wise mean after dropping the floor(beta*n) smallest and largest values."""
    if not 0 <= beta < 0.5:
        raise AggregationError("beta must be in [0, 0.5)")
    layout = _layout(updates)
    k = int(beta * len(updates))
    out: Named = []
    for i, (name, _, dtype) in enumerate(layout):
        s = np.sort(_stack(updates, i), axis=0)
        kept = s[k : len(updates) - k]
        acc = np.zeros(kept.shape[1:], dtype=np.float64)
        for row in kept:  # sorted values, fixed order: result independent of input order
            acc += row
        out.append((name, (acc / len(kept)).astype(dtype)))
    return out


def krum(updates: Sequence[Update], f: int = 1, m: int = 1) -> Named:
    """(Multi-)Krum: score each update by squared distances to its n-f-2 nearest others; fedavg the m best.
    Ties break by input position, so sorted input gives the same choice everywhere."""
    _layout(updates)  # same layout required
    n = len(updates)
    flat = np.stack([np.concatenate([np.asarray(a, dtype=np.float64).ravel() for _, a in named]) for named, _ in updates])
    dist = ((flat[:, None, :] - flat[None, :, :]) ** 2).sum(-1)
    closest = max(n - f - 2, 1)
    scores = [float(np.sort(np.delete(dist[i], i))[:closest].sum()) if n > 1 else 0.0 for i in range(n)]
    best = sorted(range(n), key=lambda i: (scores[i], i))[: max(1, min(m, n))]
    return fedavg([updates[i] for i in sorted(best)])


RULES: dict[str, Callable[..., Named]] = {"fedavg": fedavg, "median": median, "trimmed_mean": trimmed_mean, "krum": krum}


@dataclass(frozen=True)
class Param:
    """A rule parameter a task spec may set: an int or a float in [low, high) (`high` None: unbounded)."""

    kind: type
    low: float
    high: float | None = None

    def describe(self) -> str:
        return f"{'an integer' if self.kind is int else 'a number'} in [{self.low:g}, {'inf' if self.high is None else f'{self.high:g}'})"

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.kind is int else (int, float)):
            return False
        return self.low <= value and (self.high is None or value < self.high)  # NaN fails both


# The parameters each rule accepts (the others keep their function's default), and their bounds.
RULE_PARAMS: dict[str, dict[str, Param]] = {
    "fedavg": {},
    "median": {},
    "trimmed_mean": {"beta": Param(float, 0.0, 0.5)},
    "krum": {"f": Param(int, 0), "m": Param(int, 1)},
}
KRUM_NOTE = "krum needs more than 2f + 2 trainers"


def describe_rules() -> str:
    """The rules and their parameters, for hints: "fedavg, median, trimmed_mean(beta: a number in [0, 0.5)), …"."""
    rules = [name + (f"({', '.join(f'{k}: {p.describe()}' for k, p in params.items())})" if params else "") for name, params in RULE_PARAMS.items()]
    return f"{', '.join(rules)}; {KRUM_NOTE}"


def rule_problem(name: str, params: Mapping[str, object], n_updates: int | None = None) -> str | None:
    """Why `rule_by_name(name, **params)` is not a usable rule (for `n_updates` updates, when known), or None.
    Task creation refuses what this names: an unknown rule or parameter, a parameter out of bounds, a Krum `f` too
    large for the trainers (Krum tolerates f Byzantine updates among n only if n > 2f + 2)."""
    if name not in RULE_PARAMS:
        return f"unknown rule {name!r}"
    for key, value in params.items():
        if key not in RULE_PARAMS[name]:
            return f"{name} takes no parameter {key!r} (its parameters: {', '.join(RULE_PARAMS[name]) or 'none'})"
        if not RULE_PARAMS[name][key].accepts(value):
            return f"{name}'s {key} must be {RULE_PARAMS[name][key].describe()}, got {value!r}"
    if name == "krum" and n_updates is not None:
        f = int(params.get("f", inspect.signature(krum).parameters["f"].default))  # type: ignore[call-overload]
        if n_updates <= 2 * f + 2:
            return f"krum with f={f} needs more than {2 * f + 2} trainers, the task has {n_updates}"
    return None


def rule_by_name(name: str, **params: float) -> Rule:
    """Rule named in a task spec, e.g. rule_by_name("trimmed_mean", beta=0.2)."""
    if name not in RULES:
        raise AggregationError(f"unknown aggregation rule {name!r}; known: {sorted(RULES)}")
    return partial(RULES[name], **params) if params else RULES[name]


def validate_update(reference: Named, update: Named) -> str | None:
    """Why `update` cannot be aggregated with `reference`'s layout, or None if it can."""
    if len(update) != len(reference):
        return f"has {len(update)} arrays, expected {len(reference)}"
    for (rname, ref), (name, arr) in zip(reference, update):
        if name != rname:
            return f"array {name!r} where {rname!r} was expected"
        arr = np.asarray(arr)
        if arr.shape != np.shape(ref):
            return f"{name}: shape {arr.shape}, expected {np.shape(ref)}"
        if arr.dtype != np.asarray(ref).dtype:
            return f"{name}: dtype {arr.dtype}, expected {np.asarray(ref).dtype}"
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            return f"{name}: contains NaN or Inf"
    return None


@dataclass(frozen=True)
class Candidate:
    trainer: str  # address; sorting key
    named: Named | None  # None when the bytes could not be fetched or decoded
    num_samples: int
    bytes_ok: bool = True  # content hash matched what the trainer committed on chain


def select_and_aggregate(reference: Named, candidates: Sequence[Candidate], rule: Rule = fedavg, max_samples: int | None = None) -> tuple[Named | None, list[str], list[tuple[str, str]]]:
    """Validate candidates, aggregate the valid ones (sorted by lower-cased trainer address) with `rule`.

    Returns (aggregate or None if nothing is valid, included trainers, [(excluded trainer, reason)]),
    both lists in address order, so every aggregator reports the same exclusions."""
    included: list[Candidate] = []
    excluded: list[tuple[str, str]] = []
    seen: set[str] = set()
    for c in sorted(candidates, key=lambda c: (c.trainer.lower(), c.trainer)):
        key = c.trainer.lower()
        reason = None
        if key in seen:
            reason = "duplicate update from the same trainer"
        elif not c.bytes_ok or c.named is None:
            reason = "update bytes missing or do not match the committed hash"
        elif c.num_samples <= 0 or (max_samples is not None and c.num_samples > max_samples):
            reason = f"sample count {c.num_samples} out of range"
        else:
            reason = validate_update(reference, c.named)
        seen.add(key)
        if reason is None:
            included.append(c)
        else:
            excluded.append((c.trainer, reason))
    if not included:
        return None, [], excluded
    aggregate = rule([(c.named, c.num_samples) for c in included])  # type: ignore[misc]
    return aggregate, [c.trainer for c in included], excluded
