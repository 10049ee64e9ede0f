"""The coordinator's side of a federated task: publish the spec and initial model, open rounds, watch them,
and read back what happened from the contract's events (the per-round table of the demo and the explorer).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from eth_utils import keccak

from chain.sender import TxSender
from fl_node.modelfile import encode_weights
from fl_node.rounds import DEFAULT_MAX_SAMPLES, FederatedLearning, RoundState, RoundView, TaskConfig
from fl_node.spec import TaskSpec
from fl_node.storage import ContentStore
from ground.errors import FedpmError
from ground.ids import hex0x


def publish_task(fl: FederatedLearning, sender: TxSender, store: ContentStore, spec: TaskSpec, initial: Sequence[tuple[str, np.ndarray]], *,
                 trainers: list[str], aggregators: list[str], rounds: int, min_participants: int, commit_window: int = 600,
                 aggregation_window: int = 600, quorum: int = 0, max_samples: int = DEFAULT_MAX_SAMPLES) -> int:
    """Pin the canonical spec and initial model, create the task on chain; returns the task id.
    `max_samples` bounds each trainer's claimed sample count (the contract refuses more). A spec whose aggregation
    rule cannot aggregate this many trainers (e.g. Krum's f too large) is refused before anything is sent."""
    spec.check_trainers(len(trainers))
    spec_bytes = spec.canonical_bytes()
    model_bytes = encode_weights(list(initial), spec.to_json())
    config = TaskConfig(keccak(spec_bytes), store.add(spec_bytes), keccak(model_bytes), store.add(model_bytes), trainers, aggregators,
                        min_participants, commit_window, aggregation_window, quorum, rounds, max_samples)
    return fl.create_task(sender, config)


def wait_round(fl: FederatedLearning, task_id: int, r: int, *, timeout: float = 600.0, poll: float = 0.5,
               on_change: Callable[[RoundView], None] | None = None, check: Callable[[], None] | None = None) -> RoundView:
    """Block until round `r` is finalized or failed; `on_change` sees every new (state, commits, votes);
    `check` runs every poll and may raise (e.g. when a node process the round depends on has died)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if check:
            check()
        view = fl.round(task_id, r)
        key = (view.state, view.commits, view.votes)
        if key != last and on_change:
            on_change(view)
        last = key
        if view.state in (RoundState.FINALIZED, RoundState.FAILED):
            return view
        time.sleep(poll)
    raise FedpmError(f"round {r} of task {task_id} did not finish within {timeout:.0f}s", hint="are the trainer and aggregator nodes running?")


# Every event of a round, in the order the contract emits them over a round's life.
ROUND_EVENTS = ("RoundOpened", "UpdateCommitted", "CommitsClosed", "AggregateVoted", "UpdatesExcluded", "AggregatorsDissented",
                "RoundFinalized", "RoundFailed")


@dataclass(frozen=True)
class ChainRef:
    """Where an event of a round sits on chain; `account` is the trainer or aggregator it concerns, if any."""

    event: str
    tx: str
    block: int
    log_index: int
    account: str = ""


def processes_alive(procs: dict[str, "subprocess.Popen[bytes]"]) -> Callable[[], None]:
    """A `wait_round` check: fail at once, naming the node, when a node process exited with an error."""

    def check() -> None:
        dead = {name: p.returncode for name, p in procs.items() if p.poll() not in (None, 0)}
        if dead:
            raise FedpmError(f"node process(es) failed: {', '.join(f'{n} (exit {c})' for n, c in dead.items())}", hint="see the node logs")

    return check


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
    samples: dict[str, int] = field(default_factory=dict)  # trainer -> number of samples it trained on
    updates: dict[str, str] = field(default_factory=dict)  # trainer -> committed update hash
    update_cids: dict[str, str] = field(default_factory=dict)
    vote_cids: dict[str, str] = field(default_factory=dict)  # aggregator -> CID of the aggregate it voted
    refs: list[ChainRef] = field(default_factory=list)  # every event of the round, in chain order

    def ref(self, event: str, account: str = "") -> ChainRef | None:
        """The (last) on-chain reference of `event`, for `account` when given."""
        found = [x for x in self.refs if x.event == event and (not account or x.account == account)]
        return found[-1] if found else None


def fold_round(rep: RoundReport, logs: Iterable[Any], gas: Callable[[Any], int] | None = None) -> RoundReport:
    """Fold a round's decoded FederatedLearning logs (any order; sorted here) into `rep`. Pure unless `gas` reads receipts."""
    for ev in sorted(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"]))):
        name, a = ev["event"], ev["args"]
        account = a.get("trainer") or a.get("aggregator") or ""
        rep.refs.append(ChainRef(name, ev["transactionHash"].to_0x_hex(), int(ev["blockNumber"]), int(ev["logIndex"]), account))
        if name == "UpdateCommitted":
            t = a["trainer"]
            rep.participants.append(t)
            rep.losses[t] = a["lossMicro"] / 1e6
            rep.samples[t] = int(a["numSamples"])
            rep.updates[t], rep.update_cids[t] = hex0x(a["updateHash"]), a["cid"]
            if gas:
                rep.gas_commit[t] = gas(ev)
        elif name == "AggregateVoted":
            agg_ = a["aggregator"]
            rep.votes[agg_], rep.vote_cids[agg_] = hex0x(a["aggregateHash"]), a["cid"]
            if gas:
                rep.gas_vote[agg_] = gas(ev)
        elif name == "RoundFinalized":
            rep.model_hash, rep.model_cid = hex0x(a["modelHash"]), a["cid"]
        elif name == "UpdatesExcluded":
            rep.excluded = list(a["trainers"])
        elif name == "AggregatorsDissented":
            rep.dissenters = list(a["aggregators"])
        elif name == "RoundFailed":
            rep.failure = a["reason"]
    return rep


def round_report(fl: FederatedLearning, task_id: int, r: int, from_block: int = 0) -> RoundReport:
    view = fl.round(task_id, r)
    w3 = fl.ctx.w3

    def gas(ev) -> int:
        return int(w3.eth.get_transaction_receipt(ev["transactionHash"])["gasUsed"])

    logs = [ev for name in ROUND_EVENTS for ev in fl.logs(name, from_block=from_block, taskId=task_id, round=r)]
    return fold_round(RoundReport(round=r, state=view.state.name.lower()), logs, gas)
