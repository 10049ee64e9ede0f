"""The coordinator's side of a federated task: publish the spec and initial model, open rounds, watch them,
and read back what happened from the contract's events (the per-round table of the demo and the explorer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from eth_utils import keccak

from chain.events import events
from chain.sender import TxSender
from fedpm.errors import FedpmError
from fl_node.modelfile import canonical_json, encode_weights
from fl_node.rounds import FederatedLearning, RoundState, RoundView, TaskConfig
from fl_node.storage import ContentStore


def publish_task(fl: FederatedLearning, sender: TxSender, store: ContentStore, spec: dict, initial: Sequence[tuple[str, np.ndarray]], *,
                 trainers: list[str], aggregators: list[str], rounds: int, min_participants: int, commit_window: int = 600,
                 aggregation_window: int = 600, quorum: int = 0) -> int:
    """Pin the canonical spec and initial model, create the task on chain; returns the task id."""
    spec_bytes = canonical_json(spec).encode()
    model_bytes = encode_weights(list(initial), spec)
    config = TaskConfig(keccak(spec_bytes), store.add(spec_bytes), keccak(model_bytes), store.add(model_bytes), trainers, aggregators,
                        min_participants, commit_window, aggregation_window, quorum, rounds)
    return fl.create_task(sender, config)


def wait_round(fl: FederatedLearning, task_id: int, r: int, *, timeout: float = 600.0, poll: float = 0.5,
               on_change: Callable[[RoundView], None] | None = None) -> RoundView:
    """Block until round `r` is finalized or failed; `on_change` sees every new (state, commits, votes)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        view = fl.round(task_id, r)
        key = (view.state, view.commits, view.votes)
        if key != last and on_change:
            on_change(view)
        last = key
        if view.state in (RoundState.FINALIZED, RoundState.FAILED):
            return view
        time.sleep(poll)
    raise FedpmError(f"round {r} of task {task_id} did not finish within {timeout:.0f}s", hint="are the trainer and aggregator nodes running?")


@dataclass
class RoundReport:
    """What the chain says about one round: rebuilt from events alone."""

    round: int
    state: str
    participants: list[str] = field(default_factory=list)
    losses: dict[str, float] = field(default_factory=dict)
    model_hash: str = ""
    model_cid: str = ""
    votes: dict[str, str] = field(default_factory=dict)  # aggregator -> voted hash
    excluded: list[str] = field(default_factory=list)
    dissenters: list[str] = field(default_factory=list)
    failure: str = ""
    gas_commit: dict[str, int] = field(default_factory=dict)
    gas_vote: dict[str, int] = field(default_factory=dict)


def round_report(fl: FederatedLearning, task_id: int, r: int, from_block: int = 0) -> RoundReport:
    c = fl.contract
    flt = {"taskId": task_id, "round": r}
    view = fl.round(task_id, r)
    rep = RoundReport(round=r, state=view.state.name.lower())
    w3 = fl.ctx.w3

    def gas(ev) -> int:
        return int(w3.eth.get_transaction_receipt(ev["transactionHash"])["gasUsed"])

    for ev in events(c.events.UpdateCommitted, from_block=from_block, argument_filters=flt):
        t = ev["args"]["trainer"]
        rep.participants.append(t)
        rep.losses[t] = ev["args"]["lossMicro"] / 1e6
        rep.gas_commit[t] = gas(ev)
    for ev in events(c.events.AggregateVoted, from_block=from_block, argument_filters=flt):
        a = ev["args"]["aggregator"]
        rep.votes[a] = "0x" + ev["args"]["aggregateHash"].hex()
        rep.gas_vote[a] = gas(ev)
    for ev in events(c.events.RoundFinalized, from_block=from_block, argument_filters=flt):
        rep.model_hash, rep.model_cid = "0x" + ev["args"]["modelHash"].hex(), ev["args"]["cid"]
    for ev in events(c.events.UpdatesExcluded, from_block=from_block, argument_filters=flt):
        rep.excluded = list(ev["args"]["trainers"])
    for ev in events(c.events.AggregatorsDissented, from_block=from_block, argument_filters=flt):
        rep.dissenters = list(ev["args"]["aggregators"])
    for ev in events(c.events.RoundFailed, from_block=from_block, argument_filters=flt):
        rep.failure = ev["args"]["reason"]
    return rep
