"""Trainer and aggregator nodes: each watches the FederatedLearning contract and acts when its turn comes.

Both are restart-safe because they derive what to do from the chain, not from memory: a trainer that already
committed in the current round does nothing; one that trained but crashed before committing reuses the bytes
it kept in its work folder (same hash, no second training). An aggregator that voted does nothing; while commits
come in, aggregators pin each committed update into their own store, so an update outlives the trainer's node.
Any node whose chain clock shows a window of the current round expired calls `advance` itself, so a round whose
trainers or aggregators died fails on time without waiting for someone else's transaction.
Training itself is the task's `fl_node.trainer.Trainer.fit`, seeded by `local_seed`.
`step()` does at most one action and returns a line describing it (or None); `run()` loops until the task is done.
A node given `events` (the face wires Prometheus metrics to it) reports its transactions' latency, its votes, and,
from `run()`, every round of its task as it ends and the current one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
from eth_utils import keccak

from chain.reverts import ContractRevert
from chain.sender import TxSender
from fl_node import aggregate as agg
from fl_node import server_opt
from fl_node.errors import IntegrityError, StorageError
from fl_node.modelfile import ModelFileError, decode_weights, encode_weights
from fl_node.rounds import FederatedLearning, RoundState, RoundView, TaskView, UpdateView
from fl_node.spec import Kinds, TaskSpec
from fl_node.storage import ContentStore, fetch_verified
from fl_node.trainer import Trainer, fit_config
from ground.errors import FedpmError
from ground.canonical import canonical_json
from ground.files import atomic_write
from ground.ids import hex0x

Log = Callable[[str], None]
T = TypeVar("T")
TrainerFor = Callable[[TaskSpec], Trainer]  # the task's trainer for a spec (over this party's data); the face wires it
Lineage = Callable[[], dict | None]  # the lineage document of the data the trainer was built on (None: no lineage)

# Block times are whole seconds and clocks differ a little: our own clock must be this far past a deadline before
# we send an `advance` the chain's latest block does not call for yet.
CLOCK_SLACK_S = 2

# Reverts that only mean another node got there first (quorum reached, window closed): not a node failure.
RACES = frozenset({"WrongRoundState", "CommitWindowClosed", "UpdateAlreadyCommitted", "AlreadyVoted", "NotCurrentRound"})


class NodeEvents:
    """What a node reports as it works; this base ignores everything (a face overrides what it records)."""

    def acted(self, task_id: int, round_: int, action: str, seconds: float) -> None:
        """A `commit` or `vote` transaction was mined, `seconds` after it was sent."""

    def voted(self, task_id: int, round_: int, model_hash: bytes, excluded: int) -> None:
        """This aggregator voted `model_hash`, leaving out `excluded` committed updates."""

    def round_seen(self, rnd: RoundView) -> None:
        """The state of a round: the current one on every look, and each earlier one once as it ended."""


def load_spec(store: ContentStore, task: TaskView, retries: int = 3, kinds: Kinds | None = None) -> TaskSpec:
    """The task's spec, fetched by its CID, checked against its hash on chain, validated (its task part typed by
    `kinds`, when given)."""
    raw = fetch_verified(store, task.spec_cid, task.spec_hash, retries=retries)
    return TaskSpec.from_json(raw, kinds=kinds, source=f"of task {task.task_id} ({task.spec_cid})")


@dataclass
class _Node:
    fl: FederatedLearning
    sender: TxSender
    store: ContentStore
    task_id: int
    workdir: Path
    log: Log = print
    retries: int = 3
    kinds: Kinds | None = None  # the task kinds' spec readers (tasks.registry.KINDS); None: the task part stays raw
    events: NodeEvents | None = None
    _spec: TaskSpec | None = field(default=None, init=False)
    _nudged: set[tuple[int, RoundState]] = field(default_factory=set, init=False)  # windows we advanced by our own clock
    _ended: int = field(default=0, init=False)  # rounds up to this one were reported ended to `events`

    def spec(self, task: TaskView) -> TaskSpec:
        if self._spec is None:
            self._spec = load_spec(self.store, task, self.retries, self.kinds)
        return self._spec

    def current(self) -> tuple[TaskView, RoundView | None]:
        task = self.fl.task(self.task_id)
        return task, (self.fl.round(self.task_id, task.rounds_started) if task.rounds_started else None)

    def step(self) -> str | None:
        raise NotImplementedError

    def advance_expired(self, rnd: RoundView) -> str | None:
        """Apply a window of `rnd` that has passed (close commits, or fail the round). The chain decides by block time;
        where blocks come only with transactions, the latest block's time lags, so once our own clock is past the
        deadline we send one `advance` per window anyway: its block carries the current time."""
        if rnd.state in (RoundState.OPEN, RoundState.COLLECTING):
            deadline, what = rnd.commit_deadline, f"commit window expired with {rnd.commits} update(s)"
        elif rnd.state == RoundState.AGGREGATING:
            deadline, what = rnd.aggregation_deadline, f"aggregation window expired with {rnd.votes} vote(s)"
        else:
            return None
        window = (rnd.round, rnd.state)
        if self.fl.now() <= deadline and (time.time() <= deadline + CLOCK_SLACK_S or window in self._nudged):
            return None
        self._nudged.add(window)
        self.fl.advance(self.sender, self.task_id)  # a no-op if another node advanced first
        return f"round {rnd.round}: {what}; round now {self.fl.round(self.task_id, rnd.round).state.name.lower()}"

    def report(self) -> None:
        """Tell `events` about every round that ended since the last report, then the current round."""
        if self.events is None:
            return
        started = self.fl.task(self.task_id).rounds_started
        for r in range(self._ended + 1, started + 1):
            rnd = self.fl.round(self.task_id, r)
            self.events.round_seen(rnd)
            if rnd.state not in (RoundState.FINALIZED, RoundState.FAILED):
                break
            self._ended = r

    def _timed(self, round_: int, action: str, send: Callable[[], T]) -> T:
        started = time.monotonic()
        receipt = send()
        if self.events is not None:
            self.events.acted(self.task_id, round_, action, time.monotonic() - started)
        return receipt

    def run(self, poll: float = 0.5, stop_when_done: bool = True, deadline: float | None = None) -> None:
        while True:
            try:
                line = self.step()
            except (StorageError, IntegrityError) as exc:
                line = f"storage problem, will retry: {exc}"  # transient; the next poll tries again
            except ContractRevert as exc:
                if exc.error_name not in RACES:
                    raise
                line = f"too late, waiting for the next round: {exc.message}"  # the round moved on while we worked
            if line:
                self.log(line)
            self.report()
            if stop_when_done and self.fl.task(self.task_id).done:
                self.log(f"task {self.task_id} complete")
                return
            if deadline is not None and time.monotonic() > deadline:
                raise FedpmError(f"node gave up waiting for task {self.task_id}", hint="check the coordinator opened the rounds")
            time.sleep(poll)


@dataclass
class TrainerNode(_Node):
    """`lineage`, when given, documents the data the update was trained on (e.g. the anchored sensor batches): the
    document is pinned in the content store and its CID and keccak256 go into the update's metadata, so the update
    hash committed on chain covers it. Without one (plain files) the update bytes are the plain canonical bytes."""

    trainer_for: TrainerFor | None = None
    seed: int = 0
    lineage: Lineage | None = None
    _trainer: Trainer | None = field(default=None, init=False)

    def step(self) -> str | None:
        task, rnd = self.current()
        if rnd is None:
            return None
        expired = self.advance_expired(rnd)
        if expired or rnd.state not in (RoundState.OPEN, RoundState.COLLECTING):
            return expired
        me = self.sender.address
        if me not in task.trainers or me in rnd.committed:
            return None  # not ours, or already committed (e.g. before a restart)
        spec = self.spec(task)
        blob, num_samples, loss = self._update_bytes(spec, rnd)
        cid = self.store.add(blob)
        digest = keccak(blob)  # once: ~1 s per 100 MB here
        receipt = self._timed(rnd.round, "commit", lambda: self.fl.commit(self.sender, self.task_id, rnd.round, digest, cid, num_samples, loss))
        return f"round {rnd.round}: committed update {digest.hex()[:12]} ({cid[:12]}…) n={num_samples} loss={loss:.4f} gas={receipt.gas_used}"

    def _update_bytes(self, spec: TaskSpec, rnd: RoundView) -> tuple[bytes, int, float]:
        kept = self.workdir / f"task{self.task_id}-round{rnd.round}.safetensors"
        meta = kept.with_suffix(".json")
        if kept.exists() and meta.exists():  # trained before a crash: commit exactly those bytes
            info = json.loads(meta.read_text())
            return kept.read_bytes(), int(info["num_samples"]), float(info["loss"])
        base = decode_weights(fetch_verified(self.store, rnd.base_model_cid, rnd.base_model_hash, retries=self.retries))
        if self._trainer is None:
            assert self.trainer_for is not None, "a trainer node needs its task's trainer"
            self._trainer = self.trainer_for(spec)
        result = self._trainer.fit(base, fit_config(self.seed, rnd.round, spec.train.epochs))
        blob = encode_weights(result.parameters, spec.to_json(), self._lineage_ref())
        atomic_write(kept, blob)
        atomic_write(meta, json.dumps({"num_samples": result.num_examples, "loss": result.metrics["loss"]}).encode())
        return blob, result.num_examples, float(result.metrics["loss"])

    def _lineage_ref(self) -> dict | None:
        doc = self.lineage() if self.lineage is not None else None
        if doc is None:
            return None
        raw = canonical_json(doc)
        return {"cid": self.store.add(raw), "hash": hex0x(keccak(raw))}


@dataclass
class AggregatorNode(_Node):
    byzantine: bool = False  # demonstration only: vote a perturbed aggregate, which honest peers outvote
    _replicated: set[str] = field(default_factory=set, init=False)  # update CIDs this node's store holds pinned
    _tried: set[str] = field(default_factory=set, init=False)  # update CIDs we tried to pin at least once

    def step(self) -> str | None:
        task, rnd = self.current()
        if rnd is None:
            return None
        expired = self.advance_expired(rnd)
        if expired:
            return expired
        if self.sender.address not in task.aggregators:
            return None
        if rnd.state in (RoundState.OPEN, RoundState.COLLECTING):
            return self.replicate(rnd, retry=True)
        if rnd.state != RoundState.AGGREGATING:
            return None
        if rnd.has_voted(task, self.sender.address):
            return None
        self.replicate(rnd, retry=False)  # the last commit closes the window at once: pin what is not ours yet
        spec = self.spec(task)
        aggregate, included, excluded = self.compute(task, rnd, spec)
        if aggregate is None:
            return f"round {rnd.round}: no valid update to aggregate ({'; '.join(r for _, r in excluded)})"
        if self.byzantine:
            aggregate = [(n, (a + np.float32(0.05)).astype(a.dtype)) for n, a in aggregate]
        blob = encode_weights(aggregate, spec.to_json())
        del aggregate  # the bytes are all we need now
        cid = self.store.add(blob)
        if self.store.cat(cid) != blob:  # retrievable before we vote for it
            raise IntegrityError(f"aggregate {cid} is not retrievable intact from the store", hint="check the content store")
        digest = keccak(blob)
        receipt = self._timed(rnd.round, "vote", lambda: self.fl.vote(self.sender, self.task_id, rnd.round, digest, cid, included, trainers=task.trainers))
        if self.events is not None:
            self.events.voted(self.task_id, rnd.round, digest, len(excluded))
        notes = "".join(f"; left out {t[:10]}…: {why}" for t, why in excluded)
        return f"round {rnd.round}: voted {digest.hex()[:12]} over {len(included)} update(s) gas={receipt.gas_used}{notes}"

    def replicate(self, rnd: RoundView, *, retry: bool) -> str | None:
        """Pin every committed update into this aggregator's own store as the commits arrive, so the round can still be
        aggregated when the trainer's node that pinned an update goes away. Best effort: while commits are open an
        unreachable update is tried again at every poll; once they are closed, once (then fetched when computing)."""
        pinned = []
        try:
            committed = self.fl.updates(self.task_id, rnd.round)  # one scan of the round's UpdateCommitted events
        except IntegrityError:
            return None  # the node's logs lag its state (a commit landing now): the next poll tries again
        for cid in (u.cid for u in committed.values()):
            if cid in self._replicated or (not retry and cid in self._tried):
                continue
            self._tried.add(cid)
            try:
                self.store.pin(cid)
            except StorageError:
                continue
            self._replicated.add(cid)
            pinned.append(cid)
        return f"round {rnd.round}: pinned {len(pinned)} committed update(s) into our store" if pinned else None

    def compute(self, task: TaskView, rnd: RoundView, spec: TaskSpec) -> tuple[list | None, list[str], list[tuple[str, str]]]:
        """Fetch, check and aggregate every committed update, then apply the spec's server optimizer: the same inputs
        give every aggregator the same bytes. Updates are fetched as the rule draws them (in trainer-address order);
        FedAvg holds one at a time, and the base model is fetched again only for a server optimizer."""
        base = decode_weights(fetch_verified(self.store, rnd.base_model_cid, rnd.base_model_hash, retries=self.retries), copy=False)
        reference = agg.layout_of(base)  # all validation needs of the base model
        del base
        updates = self.fl.updates(self.task_id, rnd.round)
        candidates = [agg.Candidate(t, None, updates[t].num_samples, load=self._loader(updates[t])) for t in rnd.committed]
        aggregate, included, excluded = agg.select_and_aggregate(reference, candidates, spec.rule(), max_samples=task.max_samples)
        if aggregate is not None and server_opt.server_config(spec.server())["optimizer"] != "fedavg":
            base = decode_weights(fetch_verified(self.store, rnd.base_model_cid, rnd.base_model_hash, retries=self.retries))
            aggregate = server_opt.server_step(spec.server(), self._server_history(rnd, spec) + [(base, aggregate)])
        return aggregate, included, excluded

    def _server_history(self, rnd: RoundView, spec: TaskSpec) -> list:
        """What the server optimizer needs from earlier rounds, read from the chain and the content store only (a
        restarted or new aggregator derives the same): FedAvgM the base model of the previous round (its momentum
        is the step from there to this round's base)."""
        name = server_opt.server_config(spec.server())["optimizer"]
        if name == "fedavgm" and rnd.round > 1:
            prev = self.fl.round(self.task_id, rnd.round - 1)
            return [(decode_weights(fetch_verified(self.store, prev.base_model_cid, prev.base_model_hash, retries=self.retries)), None)]
        if name == "fedadam":
            raise FedpmError("the fedadam server optimizer runs in the in-memory experiment only", hint="declare fedavg or fedavgm in the spec's aggregation.server")
        return []

    def _loader(self, u: UpdateView) -> Callable[[], list | None]:
        def load() -> list | None:
            try:  # views into the fetched bytes: one copy of the update in memory
                return decode_weights(fetch_verified(self.store, u.cid, u.hash, retries=self.retries), copy=False)
            except (StorageError, IntegrityError, ModelFileError):
                return None

        return load
