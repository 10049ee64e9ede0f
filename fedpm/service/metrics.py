"""The prediction service's Prometheus metrics, declared once (names: see `fedpm.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

from fedpm.metrics import Metrics


@dataclass
class ServiceMetrics:
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        m = self.metrics
        self.predictions: Counter = m.counter("fedpm_predictions_total", "Machine health answers, by machine class and outcome (ok or the reason there is none)",
                                              ["machine_class", "outcome"])
        self.prediction_seconds: Histogram = m.histogram("fedpm_prediction_seconds", "Time to answer one machine's health or one ad-hoc prediction",
                                                         ["route"])
        self.rul: Gauge = m.gauge("fedpm_machine_rul_cycles", "Latest predicted remaining useful life per machine, in cycles", ["machine", "machine_class"])
        self.alerts: Counter = m.counter("fedpm_alerts_total", "Alerts raised, by level", ["machine_class", "level"])
        self.model_round: Gauge = m.gauge("fedpm_model_round", "Round of the model version served", ["task"])
        self.model_info: Gauge = m.gauge("fedpm_model_info", "1 for the model version served", ["task", "round", "model_hash"])
        self.model_stale: Gauge = m.gauge("fedpm_model_stale", "1 while the service cannot check for or fetch the chosen version and serves the last verified one",
                                          ["task"])
        self.model_swaps: Counter = m.counter("fedpm_model_swaps_total", "Model versions loaded and swapped in", ["task"])
        self.refresh_errors: Counter = m.counter("fedpm_model_refresh_errors_total", "Failed looks for the chosen version, by reason",
                                                 ["task", "reason"])
        self.requests: Counter = m.counter("fedpm_http_requests_total", "HTTP requests answered, by route and status", ["route", "status"])

    def served(self, task: int, round_: int, model_hash: str) -> None:
        self.model_info.clear()
        self.model_info.labels(str(task), str(round_), model_hash).set(1)
        self.model_round.labels(str(task)).set(round_)
