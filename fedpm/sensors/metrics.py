"""The gateway's Prometheus metrics, read from its store and queue at scrape time (names: see `fedpm.metrics`).

The store already counts what the gateway did (readings anchored and pending, batches by status, messages refused,
blocks missing upstream), across restarts; a collector reads those at each scrape on a connection of its own, so
the hot path (parse, persist, sign, anchor) carries no metric updates. The queue depth is the live in-memory queue
between the MQTT thread and the core thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from fedpm.metrics import Metrics
from fedpm.sensors.store import GatewayStore

if TYPE_CHECKING:
    from fedpm.sensors.gateway import Gateway

# what the store's `stats` calls a refused message -> the `reason` label
REFUSED = {"malformed": "malformed", "unknown_machine": "unknown_machine", "duplicates": "duplicate"}
NAMES = {
    "fedpm_gateway_readings_anchored_total": "counter",
    "fedpm_gateway_messages_refused_total": "counter",
    "fedpm_gateway_readings_pending": "gauge",
    "fedpm_gateway_batches": "gauge",
    "fedpm_gateway_queue_depth": "gauge",
    "fedpm_gateway_blocks_missing": "gauge",
}


class GatewayCollector:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        store = GatewayStore(self.gateway.config.store_path)  # this scrape's own connection (one per thread)
        try:
            counts, stats, gaps = store.counts(), store.stats(), store.gaps()
            statuses = [s for (s,) in store.db.execute("SELECT DISTINCT status FROM batches")]
            per_machine = {m: 0 for (m,) in store.db.execute("SELECT DISTINCT machine FROM blocks")}
        finally:
            store.close()
        yield CounterMetricFamily("fedpm_gateway_readings_anchored", "Readings in batches anchored on chain", value=counts["readings_anchored"])
        refused = CounterMetricFamily("fedpm_gateway_messages_refused", "Messages dropped before batching, by reason", labels=["reason"])
        for key, reason in REFUSED.items():
            refused.add_metric([reason], stats.get(key, 0))
        yield refused
        yield GaugeMetricFamily("fedpm_gateway_readings_pending", "Readings received but not anchored yet (inbox and signed batches)",
                                value=counts["readings_pending"])
        batches = GaugeMetricFamily("fedpm_gateway_batches", "Batches in the store, by status (signed: waiting to be anchored)", labels=["status"])
        for status in sorted(statuses):
            batches.add_metric([status], counts.get(f"batches_{status}", 0))
        yield batches
        yield GaugeMetricFamily("fedpm_gateway_queue_depth", "Messages received and not yet persisted", value=self.gateway.queue.qsize())
        missing = GaugeMetricFamily("fedpm_gateway_blocks_missing", "Sequenced blocks never received below a stream's highest seq, per machine",
                                    labels=["machine"])
        for gap in gaps:
            per_machine[gap.machine] = per_machine.get(gap.machine, 0) + gap.size
        for machine in sorted(per_machine):
            missing.add_metric([machine], per_machine[machine])
        yield missing


def gateway_metrics(gateway: Gateway) -> Metrics:
    metrics = Metrics()
    metrics.collect_from(GatewayCollector(gateway), NAMES)
    return metrics
