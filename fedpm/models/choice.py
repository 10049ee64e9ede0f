"""Which model version a factory serves: the newest finalized one by default, or one pinned (a rollback) until it
returns to the newest. Every choice is appended to a local log, `<home>/models/choices.jsonl`, one JSON object a
line ({"at", "task", "pin", "model_hash", "by", "reason"}), never rewritten: the explorer and `fedpm model log`
show it, and the prediction service reads the task's latest line on every refresh.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from fedpm.models.registry import ModelRegistryError, ModelVersion, RoundNotFinalized
from ground.errors import FedpmError


class ChoiceLogError(FedpmError):
    """The local choice log is damaged."""


def choice_log_path(home: Path) -> Path:
    return Path(home) / "models" / "choices.jsonl"


@dataclass(frozen=True)
class Choice:
    """`pin` None: follow the newest finalized version; else serve round `pin` (whose hash was `model_hash`)."""

    task: int
    pin: int | None = None
    model_hash: str | None = None
    at: int = 0
    by: str = ""
    reason: str = ""

    @property
    def follows_latest(self) -> bool:
        return self.pin is None

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "task": self.task, "pin": self.pin, "model_hash": self.model_hash, "by": self.by, "reason": self.reason}

    @classmethod
    def from_json(cls, d: Any) -> "Choice":
        if not isinstance(d, dict) or type(d.get("task")) is not int or not (d.get("pin") is None or type(d.get("pin")) is int):
            raise ValueError("not a choice")
        return cls(d["task"], d.get("pin"), d.get("model_hash"), int(d.get("at", 0)), str(d.get("by", "")), str(d.get("reason", "")))


class ChoiceLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def history(self, task: int | None = None) -> list[Choice]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                choice = Choice.from_json(json.loads(line))
            except ValueError:
                raise ChoiceLogError(f"{self.path} line {n} is not a model choice", hint="restore the file; each line is one JSON choice") from None
            if task is None or choice.task == task:
                out.append(choice)
        return out

    def current(self, task: int) -> Choice:
        found = self.history(task)
        return found[-1] if found else Choice(task)

    def record(self, choice: Choice) -> Choice:
        stamped = Choice(choice.task, choice.pin, choice.model_hash, choice.at or int(time.time()), choice.by or _user(), choice.reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:  # one short line per write: an append is atomic enough and never rewrites history
            fh.write(json.dumps(stamped.to_json(), sort_keys=True) + "\n")
        return stamped

    def pin(self, version: ModelVersion, reason: str = "") -> Choice:
        return self.record(Choice(version.task, version.round, version.model_hash, reason=reason))

    def follow_latest(self, task: int, reason: str = "") -> Choice:
        return self.record(Choice(task, None, None, reason=reason))


def resolve(versions: Sequence[ModelVersion], choice: Choice) -> ModelVersion:
    """The version `choice` names among the task's finalized `versions` (oldest first)."""
    if not versions:
        raise RoundNotFinalized(f"task {choice.task} has no finalized round yet", hint="wait for its first round to finalize")
    if choice.pin is None:
        return versions[-1]
    found = [v for v in versions if v.round == choice.pin]
    if not found:
        raise RoundNotFinalized(f"pinned round {choice.pin} of task {choice.task} is not finalized", hint=f"fedpm model use --task {choice.task} --latest")
    if choice.model_hash and found[0].model_hash != choice.model_hash:
        raise ModelRegistryError(f"pinned round {choice.pin} of task {choice.task} now names {found[0].model_hash}, not {choice.model_hash}",
                                 hint="the chain differs from the one the pin was made on; pin again")
    return found[0]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
