"""The FederatedLearning contract as the nodes see it: typed views of tasks, rounds and updates, and the
transactions they send. One place decodes the contract's tuples so the nodes never index into them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from chain.client import ContractClient
from chain.sender import Receipt, TxSender

# Default per-trainer sample bound of a task (its FedAvg weight cap): far above an honest trainer's few thousand
# C-MAPSS windows, so honest counts are never clipped; a coordinator who knows its trainers' data sets it tighter.
DEFAULT_MAX_SAMPLES = 100_000

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "NotTaskTrainer": "the task's coordinator lists its trainers; ask to be included in the next task",
    "NotTaskAggregator": "the task's coordinator lists its aggregators",
    "CommitWindowClosed": "the round's commit window has passed; wait for the next round",
    "RoundInProgress": "wait for the current round to finalize or fail (fedpm round status)",
    "TooManySamples": "the task bounds each trainer's sample count (fedpm task show: max_samples); train on at most that many",
    "SameOrganization": "one trainer and one aggregator account per organization: in a task, and in each round (another account of the org already acted)",
}


class RoundState(enum.IntEnum):
    NONE = 0
    OPEN = 1
    COLLECTING = 2
    AGGREGATING = 3
    FINALIZED = 4
    FAILED = 5


@dataclass(frozen=True)
class TaskView:
    task_id: int
    coordinator: str
    spec_hash: bytes
    spec_cid: str
    min_participants: int
    commit_window: int
    aggregation_window: int
    quorum: int
    rounds: int
    rounds_started: int
    rounds_finalized: int
    model_hash: bytes
    model_cid: str
    max_samples: int
    trainers: tuple[str, ...]
    aggregators: tuple[str, ...]

    @property
    def done(self) -> bool:
        return self.rounds_finalized >= self.rounds


@dataclass(frozen=True)
class RoundView:
    task_id: int
    round: int
    state: RoundState
    commit_deadline: int
    aggregation_deadline: int
    commits: int
    votes: int
    base_model_hash: bytes
    base_model_cid: str
    result_hash: bytes
    result_cid: str
    committed: tuple[str, ...]


@dataclass(frozen=True)
class UpdateView:
    trainer: str
    hash: bytes
    cid: str
    num_samples: int
    loss_micro: int
    committed_at: int


@dataclass(frozen=True)
class TaskConfig:
    spec_hash: bytes
    spec_cid: str
    initial_model_hash: bytes
    initial_model_cid: str
    trainers: list[str]
    aggregators: list[str]
    min_participants: int
    commit_window: int
    aggregation_window: int
    quorum: int
    rounds: int
    max_samples: int = DEFAULT_MAX_SAMPLES

    def to_chain(self) -> tuple[Any, ...]:
        return (self.spec_hash, self.spec_cid, self.initial_model_hash, self.initial_model_cid, self.trainers, self.aggregators,
                self.min_participants, self.commit_window, self.aggregation_window, self.quorum, self.rounds, self.max_samples)


class FederatedLearning(ContractClient):
    """Reads and writes of the FederatedLearning contract for one chain context."""

    CONTRACT = "FederatedLearning"

    # ---------------------------------------------------------------- reads

    def task(self, task_id: int) -> TaskView:
        info, trainers, aggregators = self.call("task", task_id)
        return TaskView(task_id, *info, trainers=tuple(trainers), aggregators=tuple(aggregators))

    def round(self, task_id: int, r: int) -> RoundView:
        info, committed = self.call("round", task_id, r)
        state, commit_dl, agg_dl, commits, votes, base_hash, base_cid, res_hash, res_cid, _included = info
        return RoundView(task_id, r, RoundState(state), commit_dl, agg_dl, commits, votes, base_hash, base_cid, res_hash, res_cid, tuple(committed))

    def update(self, task_id: int, r: int, trainer: str) -> UpdateView:
        h, cid, n, loss, at = self.call("update", task_id, r, trainer)
        return UpdateView(trainer, h, cid, n, loss, at)

    def has_voted(self, task_id: int, r: int, aggregator: str) -> bool:
        return self.call("voteOf", task_id, r, aggregator) != b"\0" * 32

    def task_count(self) -> int:
        return self.call("taskCount")

    # ---------------------------------------------------------------- writes

    def create_task(self, sender: TxSender, config: TaskConfig) -> int:
        task_id = self.task_count()
        self.send(sender, "createTask", config.to_chain())
        return task_id

    def open_round(self, sender: TxSender, task_id: int) -> int:
        self.send(sender, "openRound", task_id)
        return self.task(task_id).rounds_started

    def commit(self, sender: TxSender, task_id: int, r: int, update_hash: bytes, cid: str, num_samples: int, loss: float) -> Receipt:
        return self.send(sender, "commitUpdate", task_id, r, update_hash, cid, num_samples, max(0, int(round(loss * 1e6))))

    def vote(self, sender: TxSender, task_id: int, r: int, aggregate_hash: bytes, cid: str, included: list[str]) -> Receipt:
        return self.send(sender, "voteAggregate", task_id, r, aggregate_hash, cid, included)

    def advance(self, sender: TxSender, task_id: int) -> Receipt:
        return self.send(sender, "advance", task_id)
