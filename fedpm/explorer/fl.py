"""The explorer's federated learning data: every task of the FederatedLearning contract and its rounds as
JSON-able dicts, rebuilt from the client's typed views and the contract's events (the rounds with
`coordinator.fold_round`, the same fold `round_report` uses).

`read_tasks` is the chain access: one log query per event type for the whole contract (not per round), then
`task_json`/`round_json` (pure) shape the result. Addresses stay addresses; the caller may name them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from fl_node.coordinator import ROUND_EVENTS, RoundReport, fold_round
from fl_node.rounds import FederatedLearning, RoundView, TaskView
from ground.ids import hex0x


def verdict(rep: RoundReport, aggregator: str) -> str:
    """agree: voted the finalized model; dissent: voted something else (or was recorded as dissenting); pending otherwise."""
    voted = rep.votes.get(aggregator)
    if aggregator in rep.dissenters or (rep.model_hash and voted and voted != rep.model_hash):
        return "dissent"
    if rep.model_hash and voted == rep.model_hash:
        return "agree"
    return "pending" if voted else "no vote"


def _ref(rep: RoundReport, event: str, account: str = "") -> dict[str, Any] | None:
    ref = rep.ref(event, account)
    return None if ref is None else {"tx": ref.tx, "block": ref.block}


def round_json(rep: RoundReport, view: RoundView | None = None) -> dict[str, Any]:
    """One round for the explorer: state, participants, aggregate, votes with verdicts, exclusions, failure, chain refs."""
    participants = [{"trainer": t, "loss": rep.losses.get(t), "samples": rep.samples.get(t), "update_hash": rep.updates.get(t),
                     "cid": rep.update_cids.get(t), "excluded": t in rep.excluded, **(_ref(rep, "UpdateCommitted", t) or {})}
                    for t in rep.participants]
    votes = [{"aggregator": a, "hash": h, "cid": rep.vote_cids.get(a), "verdict": verdict(rep, a), **(_ref(rep, "AggregateVoted", a) or {})}
             for a, h in rep.votes.items()]
    samples = sum(p["samples"] or 0 for p in participants)
    mean_loss = (sum((p["loss"] or 0.0) * (p["samples"] or 0) for p in participants) / samples) if samples else None
    out: dict[str, Any] = {
        "round": rep.round, "state": rep.state, "participants": participants, "votes": votes,
        "model_hash": rep.model_hash or None, "model_cid": rep.model_cid or None, "excluded": list(rep.excluded),
        "dissenters": list(rep.dissenters), "failure": rep.failure or None, "mean_loss": mean_loss,
        "opened": _ref(rep, "RoundOpened"), "commits_closed": _ref(rep, "CommitsClosed"),
        "finalized": _ref(rep, "RoundFinalized"), "failed": _ref(rep, "RoundFailed"),
        "events": [{"event": r.event, "tx": r.tx, "block": r.block, "account": r.account or None} for r in rep.refs],
    }
    if view is not None:
        out.update({"commit_deadline": view.commit_deadline, "aggregation_deadline": view.aggregation_deadline, "commits": view.commits,
                    "vote_count": view.votes, "base_model_hash": hex0x(view.base_model_hash), "base_model_cid": view.base_model_cid})
    return out


def task_json(task: TaskView, rounds: Iterable[dict[str, Any]], created: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"task_id": task.task_id, "coordinator": task.coordinator, "spec_hash": hex0x(task.spec_hash), "spec_cid": task.spec_cid,
            "min_participants": task.min_participants, "commit_window": task.commit_window, "aggregation_window": task.aggregation_window,
            "quorum": task.quorum, "rounds_planned": task.rounds, "rounds_started": task.rounds_started,
            "rounds_finalized": task.rounds_finalized, "done": task.done, "model_hash": hex0x(task.model_hash), "model_cid": task.model_cid,
            "trainers": list(task.trainers), "aggregators": list(task.aggregators), "created": created, "rounds": list(rounds)}


def read_tasks(fl: FederatedLearning) -> list[dict[str, Any]]:
    """Every task with every started round, newest task first."""
    by_round: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for name in ROUND_EVENTS:
        for ev in fl.logs(name):
            by_round[(int(ev["args"]["taskId"]), int(ev["args"]["round"]))].append(ev)
    created = {int(ev["args"]["taskId"]): {"tx": ev["transactionHash"].to_0x_hex(), "block": int(ev["blockNumber"])}
               for ev in fl.logs("TaskCreated")}
    tasks = []
    for task_id in reversed(range(fl.task_count())):
        task = fl.task(task_id)
        rounds = []
        for r in range(1, task.rounds_started + 1):
            view = fl.round(task_id, r)
            rep = fold_round(RoundReport(round=r, state=view.state.name.lower()), by_round.get((task_id, r), []), task)
            rounds.append(round_json(rep, view))
        tasks.append(task_json(task, rounds, created.get(task_id)))
    return tasks
