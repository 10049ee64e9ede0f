"""The trainer seam: what a federated node asks of an ML task (in the spirit of Flower's `Client.fit`).

A task (tasks/rul, tasks/bearing) implements `Trainer.fit(parameters, config) -> FitResult`; the trainer node, the
in-memory experiment and the benches all call that one method, and derive the seed of a local update by the one
rule `local_seed`. This module knows no ML library: parameters are named arrays (`fl_node.modelfile.Named`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from fl_node import aggregate
from fl_node.modelfile import Named


@dataclass(frozen=True)
class FitConfig:
    """What one local update needs from the round: its 1-based number, its seed (`local_seed`), local epochs."""

    round: int
    seed: int
    epochs: int


@dataclass(frozen=True)
class FitResult:
    parameters: Named
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)  # at least "loss"


class Trainer(Protocol):
    """One party's local training: start from `parameters`, train on local data, return the new parameters."""

    def fit(self, parameters: Named, config: FitConfig) -> FitResult: ...


def local_seed(trainer_seed: int, round_number: int) -> int:
    """The seed of a trainer's local update in (1-based) round `round_number`. The demo's on-chain hashes depend on
    this rule: change it and every committed update changes."""
    return int(trainer_seed) * 1009 + int(round_number)


def fit_config(trainer_seed: int, round_number: int, epochs: int) -> FitConfig:
    return FitConfig(round=int(round_number), seed=local_seed(trainer_seed, round_number), epochs=int(epochs))


def memory_round(trainers: Sequence[Trainer], seeds: Sequence[int], base: Named, round_number: int, epochs: int,
                 rule: aggregate.Rule = aggregate.fedavg) -> Named:
    """One round without chain or storage: every trainer fits from `base` (in the given order, which must be the
    chain's trainer-address order to reproduce its aggregate), then `rule` aggregates by sample count. A streaming
    rule (FedAvg) takes each local update as it is trained, so the round holds one update at a time."""
    fits = _local_updates(trainers, seeds, base, round_number, epochs)
    return rule(fits) if aggregate.streams(rule) else rule(list(fits))


def _local_updates(trainers: Sequence[Trainer], seeds: Sequence[int], base: Named, round_number: int, epochs: int) -> Iterator[aggregate.Update]:
    for trainer, seed in zip(trainers, seeds, strict=True):
        result = trainer.fit(base, fit_config(seed, round_number, epochs))
        yield result.parameters, result.num_examples
        del result  # released before the next trainer fits
