"""Model versions from the chain: every finalized round of a federated task, with what nodes reported about it.

A version is (task, round) with the finalized model's keccak256 and CID (`RoundFinalized`), the block and time it
was finalized, the trainers whose updates it includes (committed, less `UpdatesExcluded`) and the aggregators'
votes. What the nodes report is what the FederatedLearning contract's events carry, and nothing else is trusted:
each included trainer's sample count and local training loss (`UpdateCommitted`), folded by
`fl_node.coordinator.fold_round`, the one reader of a round's events; the version's `training_loss` is their
sample-weighted mean. Reading through that fold keeps this module independent of how the contract stores rounds.

`pull` fetches a version's bytes from the content store and refuses bytes whose keccak256 is not the finalized
hash. Errors are one line: an unknown task, a round that does not exist or is not finalized, bytes that do not match.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fl_node.coordinator import ROUND_EVENTS, RoundReport, fold_round
from fl_node.errors import IntegrityError, StorageError
from fl_node.rounds import FederatedLearning, RoundState, TaskView
from fl_node.storage import ContentStore, fetch_verified
from ground.errors import FedpmError
from ground.ids import hex0x


class ModelRegistryError(FedpmError):
    """A model version that cannot be named or served."""


class UnknownTask(ModelRegistryError):
    """No federated task with this id."""


class RoundNotFinalized(ModelRegistryError):
    """The round does not exist or has no finalized model."""


class ModelIntegrityError(ModelRegistryError):
    """The content store returned bytes that are not the finalized model."""


class ModelUnavailable(ModelRegistryError):
    """The content store cannot deliver the version's bytes right now."""


@dataclass(frozen=True)
class TrainerReport:
    """What one trainer reported on chain for its update in the version's round."""

    trainer: str
    samples: int
    loss: float  # local training loss (lossMicro / 1e6)
    update_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"trainer": self.trainer, "samples": self.samples, "loss": self.loss, "update_hash": self.update_hash}


@dataclass(frozen=True)
class ModelVersion:
    task: int
    round: int
    model_hash: str  # 0x + 64 hex: keccak256 of the canonical model bytes
    cid: str
    spec_hash: str
    block: int  # where RoundFinalized is
    tx: str
    finalized_at: int  # that block's timestamp (unix seconds)
    trainers: tuple[str, ...]  # whose updates it includes
    excluded: tuple[str, ...] = ()
    reports: tuple[TrainerReport, ...] = field(default_factory=tuple)  # of the included trainers
    votes: int = 0  # aggregators who voted this model

    @property
    def samples(self) -> int:
        return sum(r.samples for r in self.reports)

    @property
    def training_loss(self) -> float | None:
        n = self.samples
        return sum(r.loss * r.samples for r in self.reports) / n if n else None

    @property
    def short(self) -> str:
        return f"task {self.task} round {self.round} ({self.model_hash[:10]}…)"

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "round": self.round, "model_hash": self.model_hash, "cid": self.cid, "spec_hash": self.spec_hash,
                "block": self.block, "tx": self.tx, "finalized_at": self.finalized_at, "trainers": list(self.trainers),
                "excluded": list(self.excluded), "reports": [r.to_json() for r in self.reports], "votes": self.votes,
                "samples": self.samples, "training_loss": self.training_loss}


def version_of(task: TaskView, rep: RoundReport, finalized_at: int) -> ModelVersion:
    """The version a finalized round's report describes (pure)."""
    ref = rep.ref("RoundFinalized")
    assert ref is not None and rep.model_hash, f"round {rep.round} is not finalized"
    included = tuple(t for t in rep.participants if t not in rep.excluded)
    reports = tuple(TrainerReport(t, rep.samples.get(t, 0), rep.losses.get(t, 0.0), rep.updates.get(t, "")) for t in included)
    votes = sum(1 for h in rep.votes.values() if h == rep.model_hash)
    return ModelVersion(task.task_id, rep.round, rep.model_hash, rep.model_cid, hex0x(task.spec_hash), ref.block, ref.tx, finalized_at,
                        included, tuple(rep.excluded), reports, votes)


class ModelRegistry:
    """The model versions of the FederatedLearning contract of one deployment, and their bytes."""

    def __init__(self, fl: FederatedLearning, store: ContentStore | None = None, *, retries: int = 3) -> None:
        self.fl = fl
        self.store = store
        self.retries = retries
        self._times: dict[int, int] = {}

    def task(self, task_id: int) -> TaskView:
        count = self.fl.task_count()
        if not 0 <= task_id < count:
            raise UnknownTask(f"task {task_id} does not exist ({count} task(s) on chain)",
                              hint="list the tasks with `fedpm task list`" if count else "create one with `fedpm task create`")
        return self.fl.task(task_id)

    def versions(self, task_id: int) -> list[ModelVersion]:
        """Every finalized round of the task, oldest first."""
        task = self.task(task_id)
        if not task.rounds_finalized:
            return []
        by_round: dict[int, list[Any]] = defaultdict(list)
        for name in ROUND_EVENTS:
            for ev in self.fl.logs(name, taskId=task_id):
                by_round[int(ev["args"]["round"])].append(ev)
        out = []
        for r in sorted(by_round):
            rep = fold_round(RoundReport(round=r, state=""), by_round[r], task)
            if rep.model_hash and rep.ref("RoundFinalized"):
                out.append(version_of(task, rep, self._time(rep.ref("RoundFinalized").block)))  # type: ignore[union-attr]
        return out

    def version(self, task_id: int, round_: int | None = None) -> ModelVersion:
        """Round `round_`'s version, or the newest finalized one."""
        task = self.task(task_id)
        if round_ is not None and not 1 <= round_ <= task.rounds_started:
            raise RoundNotFinalized(f"task {task_id} has no round {round_} ({task.rounds_started} started)",
                                    hint="list its versions with `fedpm model list --task " + str(task_id) + "`")
        if round_ is not None:
            state = self.fl.round(task_id, round_).state
            if state != RoundState.FINALIZED:
                raise RoundNotFinalized(f"round {round_} of task {task_id} is {state.name.lower()}, not finalized",
                                        hint="pick a finalized round (`fedpm model list`) or wait for this one")
        versions = self.versions(task_id)
        if not versions:
            raise RoundNotFinalized(f"task {task_id} has no finalized round yet", hint="wait for its first round to finalize (fedpm round status)")
        if round_ is None:
            return versions[-1]
        found = [v for v in versions if v.round == round_]
        if not found:
            raise RoundNotFinalized(f"round {round_} of task {task_id} has no RoundFinalized event", hint="the node's logs lag behind its state; retry")
        return found[0]

    def pull(self, version: ModelVersion) -> bytes:
        """The version's canonical bytes from the content store, refused unless they hash to the finalized hash."""
        if self.store is None:
            raise ModelUnavailable("no content store configured", hint="set storage.backend (FEDPM_STORAGE_BACKEND)")
        try:
            return fetch_verified(self.store, version.cid, bytes.fromhex(version.model_hash[2:]), retries=self.retries, backoff=0.2)
        except IntegrityError:
            raise ModelIntegrityError(f"refused {version.short}: the store's bytes for {version.cid} do not hash to the finalized {version.model_hash}",
                                      hint="the content store holds other bytes under this CID; fetch from another member's store") from None
        except StorageError as exc:
            raise ModelUnavailable(f"cannot fetch {version.short} ({version.cid}): {exc.message}", hint=exc.hint or "check the content store") from None

    def _time(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = int(self.fl.ctx.w3.eth.get_block(block)["timestamp"])
        return self._times[block]


def format_versions(versions: list[ModelVersion], chosen: int | None = None) -> str:
    """`fedpm model list`: one line per version, the served one marked."""
    if not versions:
        return "no finalized version"
    lines = [f"{'':2}{'ROUND':>5}  {'MODEL HASH':<20} {'CID':<48} {'TRAINERS':>8} {'SAMPLES':>8} {'LOSS':>9}  BLOCK"]
    for v in versions:
        loss = "-" if v.training_loss is None else f"{v.training_loss:.4f}"
        mark = "* " if v.round == chosen else "  "
        lines.append(f"{mark}{v.round:>5}  {v.model_hash[:18]}… {v.cid:<48} {len(v.trainers):>8} {v.samples:>8} {loss:>9}  {v.block}")
    return "\n".join(lines)
