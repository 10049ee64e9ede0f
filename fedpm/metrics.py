"""Prometheus metrics of one fedpm component (prometheus-client), named and exposed one way everywhere.

Each component (the prediction service, a gateway, a trainer or aggregator node) makes its own `Metrics` with its
own `CollectorRegistry`: no process-global registry, so two components in one process (tests, the demo) never mix
their series. Names follow Prometheus' conventions and are checked when a metric is declared:

- every name starts with `fedpm_`, is snake_case, and says its unit: counters end in `_total`, histograms in
  `_seconds` (or `_bytes`), gauges name what they hold (`fedpm_machine_rul_cycles`, `fedpm_model_round`);
- labels are few and bounded: `machine`, `machine_class`, `task`, `outcome`, `level`, `reason`, `route`, `status`,
  `action`.

State a component already keeps (the gateway's store) is read at scrape time by a collector (`collect_from`).

    metrics = Metrics()
    served = metrics.counter("fedpm_predictions_total", "predictions answered", ["machine_class", "outcome"])
    served.labels("turbofan", "ok").inc()
    body, content_type = metrics.exposition()          # what GET /metrics returns
    url, stop = metrics.serve("127.0.0.1", 0)          # or a /metrics endpoint of its own (gateway, nodes)
"""

from __future__ import annotations

import re
import threading
from typing import Callable, Iterable, Mapping, Protocol, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.exposition import make_wsgi_app

_NAME = re.compile(r"^fedpm_[a-z][a-z0-9_]*[a-z0-9]$")
_LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
UNIT_SUFFIXES = ("_seconds", "_bytes")
# Latency buckets of a request that should take milliseconds (the service's goal is p99 < 20 ms), up to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MetricNameError(ValueError):
    """A metric or label name that breaks the naming rules above (a programming error, raised at declaration)."""


def check_name(name: str, kind: str, labels: Sequence[str] = ()) -> None:
    if not _NAME.match(name) or "__" in name:
        raise MetricNameError(f"metric {name!r}: names are snake_case and start with fedpm_")
    if kind == "counter" and not name.endswith("_total"):
        raise MetricNameError(f"counter {name!r} must end in _total")
    if kind != "counter" and name.endswith("_total"):
        raise MetricNameError(f"{kind} {name!r} must not end in _total (only counters do)")
    if kind == "histogram" and not name.endswith(UNIT_SUFFIXES):
        raise MetricNameError(f"histogram {name!r} must end in its unit ({', '.join(UNIT_SUFFIXES)})")
    for label in labels:
        if not _LABEL.match(label) or label.startswith("__"):
            raise MetricNameError(f"label {label!r} of {name!r} is not snake_case")


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class Metrics:
    """The metrics of one component, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        check_name(name, "counter", labels)
        # prometheus-client appends _total itself: declare the base name, expose the conventional one
        return Counter(name.removesuffix("_total"), doc, list(labels), registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        check_name(name, "gauge", labels)
        return Gauge(name, doc, list(labels), registry=self.registry)

    def histogram(self, name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        check_name(name, "histogram", labels)
        return Histogram(name, doc, list(labels), registry=self.registry, buckets=tuple(buckets))

    def collect_from(self, collector: Collector, names: Mapping[str, str]) -> None:
        """Register a collector that reads state at scrape time; `names` maps each metric it yields to its kind
        (`counter` names end in `_total`, as exposed)."""
        for name, kind in names.items():
            check_name(name, kind)
        self.registry.register(collector)  # type: ignore[arg-type]  # prometheus-client's Collector is an ABC

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type: the body of GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
        """A /metrics endpoint in a background thread for a component without an HTTP server of its own (gateway,
        nodes); returns its URL and a `stop()`."""
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class _Quiet(WSGIRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

        server: WSGIServer = make_server(host, port, make_wsgi_app(self.registry), handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, name="fedpm-metrics", daemon=True)
        thread.start()

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return f"http://{server.server_address[0]}:{server.server_address[1]}/metrics", stop
