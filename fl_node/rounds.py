"""The FederatedLearning contract as the nodes see it: typed views of tasks, rounds and updates, and the
transactions they send. One place decodes the contract's tuples so the nodes never index into them.

The contract carries CIDs as the 32-byte digest of their sha2-256 multihash and sets of trainers (aggregators) as
bitmaps over the task's list; here they are CIDv0 strings and address tuples. An update's hash, CID and sample
count live in its UpdateCommitted event only (`updates` reads them from the round's opening block on).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from chain.client import ContractClient
from chain.events import events
from chain.reverts import format_enum
from chain.sender import Receipt, TxSender
from fl_node.errors import IntegrityError
from fl_node.storage.base import check_cid
from fl_node.storage.cid import cid_digest, cid_from_digest
from ground.errors import FedpmError

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


# How this feature's revert arguments read (handed to `chain.connect.connect(..., formats=...)`).
REVERT_FORMATS: dict[str, dict[str, Callable[[Any], str]]] = {"WrongRoundState": {"state": format_enum(RoundState)}}


ZERO32 = b"\0" * 32


def to_digest(cid: str) -> bytes:
    """The 32 bytes the contract stores for `cid` (InvalidCid unless a CIDv0)."""
    return cid_digest(check_cid(cid))


def from_digest(digest: bytes) -> str:
    """The CIDv0 of a digest the contract returned; "" for none (zero)."""
    return "" if bytes(digest) == ZERO32 else cid_from_digest(bytes(digest))


def members_of(accounts: Sequence[str], bits: int) -> list[str]:
    """The entries of `accounts` whose bits are set in `bits` (bit i: accounts[i]), in list order: `bits_of`'s inverse."""
    return [a for i, a in enumerate(accounts) if bits >> i & 1]


def bits_of(accounts: Sequence[str], chosen: Iterable[str]) -> int:
    """The bitmap of `chosen` over `accounts` (bit i: accounts[i]); addresses compare case-insensitively."""
    index = {a.lower(): i for i, a in enumerate(accounts)}
    bits = 0
    for a in chosen:
        if a.lower() not in index:
            raise FedpmError(f"{a} is not one of the task's {len(accounts)} listed accounts", hint="fedpm task show lists its trainers and aggregators")
        bits |= 1 << index[a.lower()]
    return bits


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
    round_opened_block: int  # the current round's events are from this block on
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
    committed: tuple[str, ...]  # in the task's trainer order
    committed_bits: int = 0
    included_bits: int = 0  # of the finalized result
    voted_bits: int = 0  # bit j: the task's aggregators[j] voted

    def has_voted(self, task: TaskView, aggregator: str) -> bool:
        return bool(self.voted_bits & bits_of(task.aggregators, [aggregator]))


@dataclass(frozen=True)
class UpdateView:
    trainer: str
    hash: bytes
    cid: str
    num_samples: int
    loss_micro: int
    block: int  # where its UpdateCommitted event is


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
        return (self.spec_hash, to_digest(self.spec_cid), self.initial_model_hash, to_digest(self.initial_model_cid), self.trainers, self.aggregators,
                self.min_participants, self.commit_window, self.aggregation_window, self.quorum, self.rounds, self.max_samples)


class FederatedLearning(ContractClient):
    """Reads and writes of the FederatedLearning contract for one chain context."""

    CONTRACT = "FederatedLearning"

    # ---------------------------------------------------------------- reads

    def task(self, task_id: int) -> TaskView:
        info, trainers, aggregators = self.call("task", task_id)
        (coordinator, spec_hash, spec_cid, min_p, commit_w, agg_w, quorum, rounds, started, finalized, model_hash, model_cid, max_samples,
         opened_block) = info
        return TaskView(task_id, coordinator, spec_hash, from_digest(spec_cid), min_p, commit_w, agg_w, quorum, rounds, started, finalized, model_hash,
                        from_digest(model_cid), max_samples, opened_block, trainers=tuple(trainers), aggregators=tuple(aggregators))

    def round(self, task_id: int, r: int) -> RoundView:
        info, committed = self.call("round", task_id, r)
        state, commit_dl, agg_dl, commits, votes, base_hash, base_cid, res_hash, res_cid, committed_bits, included, voted = info
        return RoundView(task_id, r, RoundState(state), commit_dl, agg_dl, commits, votes, base_hash, from_digest(base_cid), res_hash,
                         from_digest(res_cid), tuple(committed), committed_bits, included, voted)

    def updates(self, task_id: int, r: int, from_block: int | None = None) -> dict[str, UpdateView]:
        """Every update committed in round `r` (by trainer), from its UpdateCommitted events: from the round's opening block
        for the current round, else from `from_block` (default 0). Checked against the round's committed set, so a
        node that lags behind the chain's logs raises IntegrityError (retry) instead of leaving an update out."""
        task = self.task(task_id)
        start = task.round_opened_block if r == task.rounds_started else (from_block or 0)
        committed = set(self.round(task_id, r).committed)
        found = {}
        for ev in events(self.contract.events.UpdateCommitted, from_block=start, argument_filters={"taskId": task_id, "round": r}):
            a = ev["args"]
            found[a["trainer"]] = UpdateView(a["trainer"], a["updateHash"], from_digest(a["cid"]), a["numSamples"], a["lossMicro"], int(ev["blockNumber"]))
        if set(found) != committed:
            raise IntegrityError(f"round {r} of task {task_id}: {len(committed)} commit(s) on chain, {len(found)} UpdateCommitted event(s) found",
                                 hint="the node's logs lag behind its state; retry")
        return found

    def update(self, task_id: int, r: int, trainer: str) -> UpdateView | None:
        return self.updates(task_id, r).get(trainer)

    def has_committed(self, task_id: int, r: int, trainer: str) -> bool:
        return trainer in self.round(task_id, r).committed

    def has_voted(self, task_id: int, r: int, aggregator: str) -> bool:
        return self.round(task_id, r).has_voted(self.task(task_id), aggregator)

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
        return self.send(sender, "commitUpdate", task_id, r, update_hash, to_digest(cid), num_samples, max(0, int(round(loss * 1e6))))

    def vote(self, sender: TxSender, task_id: int, r: int, aggregate_hash: bytes, cid: str, included: Iterable[str],
             trainers: Sequence[str] | None = None) -> Receipt:
        """Vote an aggregate over the updates of `included` (addresses; `trainers`, the task's list, is read if not given)."""
        bits = bits_of(trainers if trainers is not None else self.task(task_id).trainers, included)
        return self.send(sender, "voteAggregate", task_id, r, aggregate_hash, to_digest(cid), bits)

    def advance(self, sender: TxSender, task_id: int) -> Receipt:
        return self.send(sender, "advance", task_id)
