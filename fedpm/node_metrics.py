"""Prometheus metrics of a trainer or aggregator node (`fl_node.nodes.NodeEvents`; names: see `fedpm.metrics`).

Per task: the current round, its state and the deadline of its open window (a round past its deadline that no node
advanced is stuck), rounds seen ending by outcome, commit and vote transaction latency, updates an aggregator left
out, and dissent: rounds this aggregator voted in that finalized a different model than its vote.
"""

from __future__ import annotations

from fedpm.metrics import Metrics
from fl_node.nodes import NodeEvents
from fl_node.rounds import RoundState, RoundView

ENDED = {RoundState.FINALIZED: "finalized", RoundState.FAILED: "failed"}


class NodeMetrics(NodeEvents):
    def __init__(self, metrics: Metrics | None = None) -> None:
        m = self.metrics = metrics or Metrics()
        self.round = m.gauge("fedpm_fl_round", "The task's latest round", ["task"])
        self.state = m.gauge("fedpm_fl_round_state", "State of the latest round (1 open, 2 collecting, 3 aggregating, 4 finalized, 5 failed)", ["task"])
        self.deadline = m.gauge("fedpm_fl_round_deadline_timestamp_seconds", "Chain time the latest round's open window ends (+Inf once it ended)",
                                ["task"])
        self.rounds = m.counter("fedpm_fl_rounds_total", "Rounds seen ending, by outcome (finalized, failed)", ["task", "outcome"])
        self.latency = m.histogram("fedpm_fl_transaction_seconds", "From sending a commit or vote to its receipt", ["task", "action"])
        self.excluded = m.counter("fedpm_fl_updates_excluded_total", "Committed updates this aggregator left out of its aggregate", ["task"])
        self.dissent = m.counter("fedpm_fl_dissent_total", "Rounds that finalized another model than this aggregator voted", ["task"])
        self._votes: dict[tuple[int, int], bytes] = {}

    def acted(self, task_id: int, round_: int, action: str, seconds: float) -> None:
        self.latency.labels(str(task_id), action).observe(seconds)

    def voted(self, task_id: int, round_: int, model_hash: bytes, excluded: int) -> None:
        self._votes[(task_id, round_)] = model_hash
        self.excluded.labels(str(task_id)).inc(excluded)

    def round_seen(self, rnd: RoundView) -> None:
        task = str(rnd.task_id)
        self.round.labels(task).set(rnd.round)
        self.state.labels(task).set(int(rnd.state))
        if rnd.state in (RoundState.OPEN, RoundState.COLLECTING):
            self.deadline.labels(task).set(rnd.commit_deadline)
        elif rnd.state == RoundState.AGGREGATING:
            self.deadline.labels(task).set(rnd.aggregation_deadline)
        else:
            self.deadline.labels(task).set(float("inf"))
        outcome = ENDED.get(rnd.state)
        if outcome is None:
            return
        self.rounds.labels(task, outcome).inc()
        vote = self._votes.pop((rnd.task_id, rnd.round), None)
        if rnd.state == RoundState.FINALIZED and vote is not None and vote != rnd.result_hash:
            self.dissent.labels(task).inc()
