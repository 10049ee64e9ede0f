"""The gateway's Prometheus metrics, read from its store and queue at scrape time (names: see `fedpm.metrics`).

The store already counts what the gateway did (readings anchored and pending, batches by status, blocks refused by
reason: unsigned, forged, unbound, replayed, out of sequence, malformed; blocks missing upstream per device), across restarts; a collector reads those at each scrape on a connection of its own, so
the hot path (parse, persist, sign, anchor) carries no metric updates. The queue depth is the live in-memory queue
between the MQTT thread and the core thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from fedpm.metrics import Metrics
from fedpm.sensors.store import REFUSALS, GatewayStore

if TYPE_CHECKING:
    from fedpm.sensors.gateway import Gateway

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
            counts, refused_by, gaps = store.counts(), store.refusals(), store.gaps()
            statuses = [s for (s,) in store.db.execute("SELECT DISTINCT status FROM batches")]
            per_machine = {m: 0 for (m,) in store.db.execute("SELECT DISTINCT machine FROM blocks")}
        finally:
            store.close()
        yield CounterMetricFamily("fedpm_gateway_readings_anchored", "Readings in batches anchored on chain", value=counts["readings_anchored"])
        refused = CounterMetricFamily("fedpm_gateway_messages_refused", "Blocks refused before batching, by reason", labels=["reason"])
        for reason in REFUSALS:
            refused.add_metric([reason], refused_by[reason])
        yield refused
        yield GaugeMetricFamily("fedpm_gateway_readings_pending", "Readings received but not anchored yet (inbox, closed and anchoring batches)",
                                value=counts["readings_pending"])
        batches = GaugeMetricFamily("fedpm_gateway_batches", "Batches in the store, by status (closed: waiting to be anchored)", labels=["status"])
        for status in sorted(statuses):
            batches.add_metric([status], counts.get(f"batches_{status}", 0))
        yield batches
        yield GaugeMetricFamily("fedpm_gateway_queue_depth", "Messages received and not yet persisted", value=self.gateway.queue.qsize())
        missing = GaugeMetricFamily("fedpm_gateway_blocks_missing", "Blocks never received below a device's highest seq, per machine",
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
