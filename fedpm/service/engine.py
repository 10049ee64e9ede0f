"""The prediction service without HTTP: the model version served, machine health from verified data, alerts.

`HealthService.refresh()` is the follower's step: one cheap look at the chain (the task's finalized count and current
model, and the local choice); when the chosen version changed it pulls the bytes (checked against the finalized
hash), loads and warms the model, then swaps one reference. A request reads that reference once, so a swap never
drops or mixes a request. When the chain or the content store cannot be reached, or the store returns other bytes,
the last verified version keeps serving and `/health` and `fedpm_model_stale` say so.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import requests

from fedpm.maintenance.store import ANCHORED, RecordStore
from fedpm.models.choice import Choice, ChoiceLog, resolve
from fedpm.models.registry import ModelIntegrityError, ModelRegistry, ModelRegistryError, ModelUnavailable, ModelVersion
from fedpm.prognostics.alerts import Alert, Fleet, MachineClass, severity, should_raise
from fedpm.prognostics.journal import Journal, PredictionRow
from fedpm.prognostics.predictor import ModelLoadError, Predictor, load_predictor
from fedpm.prognostics.windows import NoWindow, Window, build_window
from fedpm.sensors.feed import VerifiedFeed
from fedpm.service.metrics import ServiceMetrics
from ground.errors import FedpmError

Loader = Callable[[ModelVersion, bytes], Predictor]


@dataclass(frozen=True)
class Served:
    """What a request sees, read once: the model (None before the first load) and why it may be stale."""

    predictor: Predictor | None
    choice: Choice
    stale: str | None = None
    since: float = 0.0

    def model_json(self) -> dict[str, Any] | None:
        v = self.predictor.version if self.predictor else None
        return None if v is None else {"task": v.task, "round": v.round, "model_hash": v.model_hash, "cid": v.cid, "finalized_at": v.finalized_at,
                                       "trainers": list(v.trainers), "training_loss": v.training_loss}


class HealthService:
    def __init__(self, task: int, registry: ModelRegistry, choices: ChoiceLog, feed: VerifiedFeed, fleet: Fleet, journal: Journal,
                 records: RecordStore | None = None, metrics: ServiceMetrics | None = None, *, loader: Loader = load_predictor,
                 clock: Callable[[], float] = time.time, log: Callable[[str], None] = lambda line: None) -> None:
        self.task = task
        self.registry = registry
        self.choices = choices
        self.feed = feed
        self.fleet = fleet
        self.journal = journal
        self.records = records
        self.metrics = metrics or ServiceMetrics()
        self.loader = loader
        self.clock = clock
        self.log = log
        self._served = Served(None, Choice(task))
        self._key: tuple | None = None
        self._refresh_lock = threading.Lock()
        self._alert_lock = threading.Lock()
        self._alerted: set[str] | None = None  # machines with an alert in the journal (read once, then kept up to date)

    # ------------------------------------------------------------ the model served

    @property
    def served(self) -> Served:
        return self._served

    def refresh(self) -> str | None:
        """Follow the chain and the local choice; returns a line when something changed."""
        with self._refresh_lock:
            try:
                return self._refresh()
            except ModelUnavailable as exc:
                return self._stale("store", f"content store unreachable: {exc.message}")
            except ModelIntegrityError as exc:
                return self._stale("integrity", exc.message)
            except ModelLoadError as exc:
                return self._stale("load", exc.message)
            except (requests.RequestException, ConnectionError, OSError) as exc:
                return self._stale("chain", f"chain unreachable: {type(exc).__name__}")
            except ModelRegistryError as exc:
                return self._stale("registry", exc.message)
            except FedpmError as exc:
                return self._stale("chain", exc.message)

    def _refresh(self) -> str | None:
        task = self.registry.task(self.task)
        choice = self.choices.current(self.task)
        key = (task.rounds_finalized, bytes(task.model_hash), choice.pin, choice.model_hash)
        current = self._served.predictor
        if key == self._key and current is not None:
            return self._fresh()
        version = resolve(self.registry.versions(self.task), choice)
        if current is not None and current.version.model_hash == version.model_hash:
            self._key = key
            self._served = Served(current, choice, None, self._served.since)
            return self._fresh()
        predictor = self.loader(version, self.registry.pull(version))
        predictor.warm_up()
        self._served = Served(predictor, choice, None, self.clock())  # the swap: one reference
        self._key = key
        event = "loaded" if current is None else ("pinned" if choice.pin is not None else "swapped")
        self.journal.served(event, version.task, version.round, version.model_hash, "" if choice.pin is None else f"pinned by {choice.by}")
        self.metrics.served(version.task, version.round, version.model_hash)
        self.metrics.model_swaps.labels(str(self.task)).inc()
        self.metrics.model_stale.labels(str(self.task)).set(0)
        return f"serving {version.short}" + (" (pinned)" if choice.pin is not None else "")

    def _fresh(self) -> None:
        if self._served.stale is not None:
            self._served = Served(self._served.predictor, self._served.choice, None, self._served.since)
            self.journal.served("recovered", self.task, None, None, "")
        self.metrics.model_stale.labels(str(self.task)).set(0)
        return None

    def _stale(self, reason: str, message: str) -> str | None:
        self.metrics.refresh_errors.labels(str(self.task), reason).inc()
        if self._served.predictor is not None:
            self.metrics.model_stale.labels(str(self.task)).set(1)
        changed = self._served.stale != message
        self._served = Served(self._served.predictor, self._served.choice, message, self._served.since)
        if changed:
            self.journal.served("stale", self.task, None, None, message)
            return f"still serving the last verified version: {message}"
        return None

    def status(self) -> dict[str, Any]:
        s = self._served
        state = "no-model" if s.predictor is None else ("stale" if s.stale else "ok")
        return {"status": state, "task": self.task, "model": s.model_json(), "stale_reason": s.stale, "since": s.since,
                "choice": s.choice.to_json() | {"follows_latest": s.choice.follows_latest}}

    # ------------------------------------------------------------ machines

    def machines(self) -> list[str]:
        return sorted(set(self.feed.machines()) | set(self.fleet.machines))

    def health(self, machine: str) -> dict[str, Any]:
        """One machine's predicted RUL with its provenance, or why there is none."""
        return self.fleet_health([machine])[0]

    def fleet_health(self, machines: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Health of many machines with one batched model call."""
        served = self._served
        machines = list(self.machines() if machines is None else machines)
        rows: list[PredictionRow] = []  # written to the journal in one transaction
        results: list[dict[str, Any] | None] = [None] * len(machines)
        ready: list[tuple[int, str, MachineClass, Window]] = []
        for i, machine in enumerate(machines):
            cls = self.fleet.class_of(machine)
            outcome = self._window(served, machine, cls)
            if isinstance(outcome, NoWindow):
                results[i] = self._answer(served, machine, cls, outcome, rows)
            else:
                assert cls is not None
                ready.append((i, machine, cls, outcome))
        if ready:
            assert served.predictor is not None
            ruls = served.predictor.predict(np.stack([w.x for _, _, _, w in ready]))
            for (i, machine, cls, w), rul in zip(ready, ruls):
                results[i] = self._answer(served, machine, cls, w, rows, float(rul))
        self.journal.record_predictions(rows)
        return [r for r in results if r is not None]

    def _window(self, served: Served, machine: str, cls: MachineClass | None) -> Window | NoWindow:
        p = served.predictor
        if cls is None:
            return NoWindow("unknown-class", f"{machine} has no machine class: list it in the fleet file (serve.fleet)")
        if p is None:
            return NoWindow("no-model", served.stale or f"task {self.task} has no finalized version to serve yet")
        if cls.task_kind != p.task_kind:
            return NoWindow("wrong-class", f"{machine} is a {cls.name} ({cls.task_kind}); the served model is a {p.task_kind} model")
        data = self.feed.read(machine, channels=set(p.features), tail=2 * (p.window + 1) * len(p.features))  # two windows' worth
        return build_window(data, p.spec.params.normalization, p.window)

    def _answer(self, served: Served, machine: str, cls: MachineClass | None, outcome: Window | NoWindow, rows: list[PredictionRow],
                rul: float | None = None) -> dict[str, Any]:
        p, now = served.predictor, self.clock()
        v = p.version if p else None
        cls_name = cls.name if cls else "unknown"
        out: dict[str, Any] = {"machine": machine, "machine_class": cls_name, "model": served.model_json(), "stale": served.stale, "at": now}
        if isinstance(outcome, NoWindow):
            self.metrics.predictions.labels(cls_name, outcome.reason).inc()
            rows.append(PredictionRow(machine, now, None, outcome.reason, outcome.detail, v and v.task, v and v.round, v and v.model_hash,
                                            None, None, []))
            return out | {"prediction": False, "rul": None, "reason": outcome.reason, "detail": outcome.detail, "window": None, "batches": [],
                          "alert": None}
        assert v is not None and cls is not None and rul is not None
        rul = round(rul, 2)
        batches = [b.to_json() for b in outcome.batches]
        self.metrics.predictions.labels(cls_name, "ok").inc()
        self.metrics.rul.labels(machine, cls_name).set(rul)
        rows.append(PredictionRow(machine, now, rul, None, None, v.task, v.round, v.model_hash, outcome.from_ms, outcome.to_ms, batches))
        alert = self._alert(machine, cls, rul, v, outcome, now)
        rule = cls.rule_for(rul)
        return out | {"prediction": True, "rul": rul, "reason": None, "detail": None, "window": outcome.span_json() | {"verified_cycles": outcome.cycles},
                      "batches": batches, "alert": alert, "advice": None if rule is None else rule.to_json()}

    # ------------------------------------------------------------ alerts

    def _alert(self, machine: str, cls: MachineClass, rul: float, v: ModelVersion, w: Window, now: float) -> dict[str, Any] | None:
        """The machine's open alert, raising a new one if a more severe rule applies to data newer than the last answer."""
        rule = cls.rule_for(rul)
        with self._alert_lock:
            if self._alerted is None:
                self._alerted = self.journal.alerted_machines()
            if rule is None and machine not in self._alerted:
                return None  # nothing to raise, nothing open: no journal read
            alerts = self.journal.alerts(machine)
            answered = self._answered(machine)
            last_answer = max((t for a in alerts for t in [answered.get(a.id)] if t is not None), default=None)
            open_ = [a for a in alerts if a.id not in answered and (last_answer is None or a.raised_at > last_answer)]
            top = max(open_, key=lambda a: severity(a.level), default=None)
            fresh_data = last_answer is None or w.to_ms > last_answer * 1000
            if fresh_data and should_raise(rule, top.level if top else None):
                assert rule is not None
                top = Alert(machine, cls.name, rule.level, rule.action, rul, rule.below, v.task, v.round, v.model_hash, w.from_ms, w.to_ms,
                            tuple(f"{b.device}:{b.first_seq}:{b.root}" for b in w.batches), int(now))
                self.journal.record_alert(top)
                self._alerted.add(machine)
                self.metrics.alerts.labels(cls.name, rule.level).inc()
                self.log(f"ALERT {rule.level} {machine}: RUL {rul:.1f} < {rule.below:g} ({top.id})")
        return None if top is None else {"id": top.id, **top.to_json()}

    def _answered(self, machine: str) -> dict[str, int]:
        """Alert id -> time of the anchored maintenance record answering it."""
        if self.records is None or not self.records.path.exists():  # no maintenance recorded here yet
            return {}
        out: dict[str, int] = {}
        for r in self.records.records(machine, status=ANCHORED):
            rec = r.record()
            if rec.answers:
                out[rec.answers] = min(out.get(rec.answers, rec.time), rec.time)
        return out

    # ------------------------------------------------------------ ad-hoc windows

    def predict(self, features: Sequence[str], windows: np.ndarray) -> tuple[Served, np.ndarray]:
        """RUL of raw (unnormalized) windows [n, window, len(features)] whose columns are named by `features`."""
        served = self._served
        p = served.predictor
        if p is None:
            raise NoModel(served.stale or f"task {self.task} has no finalized version to serve yet", hint="wait for the first round to finalize")
        missing = [f for f in p.features if f not in features]
        if missing:
            raise BadInput(f"the model reads features {', '.join(missing)} that the request does not name", hint=f"send features {list(p.features)}")
        if windows.ndim != 3 or windows.shape[1] != p.window or windows.shape[2] != len(features):
            raise BadInput(f"windows must be [n, {p.window}, {len(features)}] (n windows of {p.window} cycles x the named features), got {list(windows.shape)}",
                           hint=f"send {p.window} cycles per window")
        if not np.all(np.isfinite(windows)):
            raise BadInput("windows hold a value that is not a finite number", hint="send finite numbers")
        from tasks.rul.cmapss import FEATURE_COLUMNS

        rows = np.zeros((*windows.shape[:2], len(FEATURE_COLUMNS)), np.float64)
        for j, f in enumerate(features):
            if f in FEATURE_COLUMNS:
                rows[..., FEATURE_COLUMNS.index(f)] = windows[..., j]
        return served, p.predict(p.spec.params.normalization.apply(rows))


class BadInput(FedpmError):
    """A request the service cannot answer as asked (HTTP 422)."""


class NoModel(FedpmError):
    """No verified model version to predict with yet (HTTP 503)."""


class Follower:
    """Runs `service.refresh()` every `poll` seconds in a thread until stopped."""

    def __init__(self, service: HealthService, poll: float, log: Callable[[str], None] = lambda line: None) -> None:
        self.service, self.poll, self.log = service, poll, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fedpm-serve-follower", daemon=True)

    def start(self) -> "Follower":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            line = self.service.refresh()
            if line:
                self.log(line)
            self._stop.wait(self.poll)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
