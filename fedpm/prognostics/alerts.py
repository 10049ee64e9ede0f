"""Machine classes, their alert rules, and alerts with a maintenance instruction (pure: no I/O).

A machine class names the task kind whose models may predict for it (a turbofan's RUL model says nothing about a
press) and its rules: below `below` cycles of predicted remaining life, raise an alert of `level` with `action`, the
recommended maintenance. The most severe rule that applies wins (the lowest threshold above the prediction).

An alert carries its provenance: the model version (task, round, model hash) and the anchored batches of the input
window (device, seq, Merkle root). Its canonical bytes (`ground.canonical.canonical_json`) are hashed with keccak256:
that is the alert's id, which a maintenance record names in `answers`, so the record's hash on chain proves which
prediction the action answered. An alert is raised once per machine and level; it escalates (plan -> stop) and is
raised again only after a maintenance record answered the last one.

Fleet file (JSON), machine -> class, and classes beyond the built-in ones:

    {"machines": {"factory-1-m1": "turbofan", "press-7": "press"},
     "classes": {"press": {"task_kind": "press_rul", "rules": [{"below": 20, "level": "plan", "action": "..."}]}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from eth_utils import keccak

from ground.canonical import canonical_json
from ground.errors import FedpmError
from ground.ids import hex0x

LEVELS = ("plan", "stop")  # in rising severity
ALERT_KIND = "fedpm-alert"


class FleetError(FedpmError):
    """The fleet file is malformed."""


@dataclass(frozen=True)
class Rule:
    below: float  # predicted RUL (cycles) under which the rule applies
    level: str
    action: str

    def to_json(self) -> dict[str, Any]:
        return {"below": self.below, "level": self.level, "action": self.action}


@dataclass(frozen=True)
class MachineClass:
    name: str
    task_kind: str
    rules: tuple[Rule, ...]  # ascending by threshold

    def rule_for(self, rul: float) -> Rule | None:
        """The most severe rule that applies to a predicted RUL, or None."""
        return next((r for r in self.rules if rul < r.below), None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "task_kind": self.task_kind, "rules": [r.to_json() for r in self.rules]}


TURBOFAN = MachineClass("turbofan", "cmapss_rul", (
    Rule(10, "stop", "stop the engine and replace the degraded module before further cycles"),
    Rule(30, "plan", "plan maintenance: inspect the degraded module and order parts within the next cycles"),
))
BUILT_IN = {TURBOFAN.name: TURBOFAN}


@dataclass(frozen=True)
class Fleet:
    """Which class each machine is, and the classes' rules."""

    machines: Mapping[str, str] = field(default_factory=dict)
    classes: Mapping[str, MachineClass] = field(default_factory=lambda: dict(BUILT_IN))
    default_class: str | None = None  # for machines the file does not list

    def class_of(self, machine: str) -> MachineClass | None:
        name = self.machines.get(machine, self.default_class)
        return self.classes.get(name) if name else None

    def to_json(self) -> dict[str, Any]:
        return {"machines": dict(self.machines), "classes": {k: c.to_json() for k, c in self.classes.items()}, "default_class": self.default_class}

    @classmethod
    def from_json(cls, data: Any, source: str = "fleet file") -> "Fleet":
        if not isinstance(data, dict) or set(data) - {"machines", "classes", "default_class"}:
            raise FleetError(f"{source} must be an object with machines, classes and default_class", hint="see fedpm/prognostics/alerts.py")
        classes = dict(BUILT_IN)
        for name, c in (data.get("classes") or {}).items():
            classes[name] = _read_class(name, c, source)
        machines = data.get("machines") or {}
        if not isinstance(machines, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in machines.items()):
            raise FleetError(f"{source}: machines must map machine ids to class names", hint='e.g. {"factory-1-m1": "turbofan"}')
        default = data.get("default_class")
        unknown = sorted({v for v in machines.values() if v not in classes} | ({default} if default and default not in classes else set()))
        if unknown:
            raise FleetError(f"{source}: unknown machine class(es) {', '.join(unknown)}", hint=f"declare them under classes; built in: {', '.join(BUILT_IN)}")
        return cls(machines, classes, default)

    @classmethod
    def load(cls, path: Path | None, default_class: str | None = None) -> "Fleet":
        if path is None:
            return cls(default_class=default_class)
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FleetError(f"fleet file {path} does not exist", hint="write it (machines -> class) or unset serve.fleet") from None
        except ValueError as exc:
            raise FleetError(f"fleet file {path} is not JSON: {exc}", hint="fix the file") from None
        fleet = cls.from_json(data, str(path))
        return fleet if default_class is None else cls(fleet.machines, fleet.classes, default_class)


def _read_class(name: str, c: Any, source: str) -> MachineClass:
    bad = FleetError(f"{source}: class {name!r} needs task_kind and rules [{{below, level, action}}]", hint=f"levels: {', '.join(LEVELS)}")
    if not isinstance(c, dict) or not isinstance(c.get("task_kind"), str) or not isinstance(c.get("rules"), list):
        raise bad
    rules = []
    for r in c["rules"]:
        if not isinstance(r, dict) or r.get("level") not in LEVELS or not isinstance(r.get("action"), str) or \
                not isinstance(r.get("below"), (int, float)) or isinstance(r.get("below"), bool) or r["below"] <= 0:
            raise bad
        rules.append(Rule(float(r["below"]), r["level"], r["action"]))
    return MachineClass(name, c["task_kind"], tuple(sorted(rules, key=lambda r: r.below)))


@dataclass(frozen=True)
class Alert:
    machine: str
    machine_class: str
    level: str
    action: str
    rul: float  # predicted cycles, rounded to 0.01
    threshold: float
    task: int
    round: int
    model_hash: str
    window_from_ms: int
    window_to_ms: int
    batches: tuple[str, ...]  # "device:seq:root" of each anchored input batch
    raised_at: int  # unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"kind": ALERT_KIND, "v": 1, "machine": self.machine, "machine_class": self.machine_class, "level": self.level,
                "action": self.action, "rul": self.rul, "threshold": self.threshold, "task": self.task, "round": self.round,
                "model_hash": self.model_hash, "window": {"from_ms": self.window_from_ms, "to_ms": self.window_to_ms},
                "batches": list(self.batches), "raised_at": self.raised_at}

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        return hex0x(keccak(self.canonical_bytes()))

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Alert":
        return cls(d["machine"], d["machine_class"], d["level"], d["action"], d["rul"], d["threshold"], d["task"], d["round"], d["model_hash"],
                   d["window"]["from_ms"], d["window"]["to_ms"], tuple(d["batches"]), d["raised_at"])


def severity(level: str | None) -> int:
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def should_raise(rule: Rule | None, open_level: str | None) -> bool:
    """Raise when a rule applies and is more severe than the machine's open (unanswered) alert, if any."""
    return rule is not None and severity(rule.level) > severity(open_level)
