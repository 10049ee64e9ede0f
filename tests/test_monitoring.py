"""Monitoring with the real parts: a real Prometheus (Debian's) scrapes a gateway, an aggregator node and the prediction
service (uvicorn) running over a real anvil, evaluates the application's alert rules (monitoring/rules/fedpm.yml as
shipped) and sends what fires to a real Alertmanager, which delivers it to a webhook. Beside it: the rules' unit tests
through `promtool test rules` (and a wrong threshold fails them), every metric a rule or the fleet-health dashboard
names is one fedpm exports, and an aggregator outvoted by the quorum counts its dissent."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from chain.node import free_port
from fedpm.node_metrics import NodeMetrics
from fedpm.sensors.metrics import gateway_metrics
from fedpm.service.metrics import ServiceMetrics
from fedpm.service.server import start_service
from tests.parts import require
from tests.sensor_helpers import wait_for
from tests.serve_helpers import AGGREGATORS, LIFE, TRAINERS, LiveMachine, fl_env, spec, wear_model

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "monitoring" / "rules" / "fedpm.yml"
DASHBOARD = REPO / "monitoring" / "grafana" / "dashboards" / "fleet-health.json"
M = "factory-1-m1"


def exported_names() -> set[str]:
    """Every metric name the gateway, a node and the service expose (counters with _total, histograms' series)."""
    from fedpm.sensors.metrics import NAMES

    names = set(NAMES)
    for registry in (NodeMetrics().metrics.registry, ServiceMetrics().metrics.registry):
        for family in registry.collect():  # labelled metrics with no series yet have no samples: names by type
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
            names.update(family.name + suffix for suffix in suffixes)
    return names


def query_names(expr: str) -> set[str]:
    """The fedpm metric names a PromQL expression reads."""
    return set(re.findall(r"\bfedpm_[a-z0-9_]+", expr))


def test_every_metric_a_rule_or_the_fleet_dashboard_reads_is_exported():
    exported = exported_names()
    rules = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert rules and queries and all(query_names(q) for q in queries)
    for expr in rules + queries:
        assert query_names(expr) <= exported, (expr, sorted(query_names(expr) - exported))
    assert "fedpm_model_rul_cycles" not in exported  # the check can fail: a misspelt name is not exported


def test_alert_rules_pass_their_unit_tests_and_a_wrong_threshold_fails_them(tmp_path):
    promtool = require("promtool")
    ok = subprocess.run([promtool, "test", "rules", str(REPO / "monitoring" / "tests" / "fedpm.yml")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "rules" / "fedpm.yml").write_text(RULES.read_text().replace('machine_class="turbofan"} < 30', 'machine_class="turbofan"} < 20'))
    (tmp_path / "tests" / "fedpm.yml").write_text((REPO / "monitoring" / "tests" / "fedpm.yml").read_text())
    wrong = subprocess.run([promtool, "test", "rules", str(tmp_path / "tests" / "fedpm.yml")], capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0 and "MachineMaintenanceDue" in wrong.stdout + wrong.stderr


@pytest.mark.usefixtures("snapshot")
def test_an_aggregator_outvoted_by_the_quorum_counts_its_dissent(consortium, tmp_path):
    from eth_utils import keccak

    from fl_node.modelfile import encode_weights
    from fl_node.nodes import AggregatorNode

    env = fl_env(consortium, tmp_path / "store", tmp_path / "work")
    r = env.fl.open_round(consortium.sender("gov-a"), env.task_id)
    blob = encode_weights(wear_model(1.0), spec().to_json())
    cid = env.store.add(blob)
    for org in TRAINERS:
        env.fl.commit(consortium.sender(org), env.task_id, r, keccak(blob), cid, 10, 0.5)
    honest, byzantine = NodeMetrics(), NodeMetrics()
    nodes = [AggregatorNode(env.fl, consortium.sender(org), env.store, env.task_id, tmp_path / org, log=lambda _: None,
                            byzantine=org == "agg-1", events=byzantine if org == "agg-1" else honest if org == "agg-2" else None) for org in AGGREGATORS]
    for node in nodes:
        node.step()
    for node in nodes[:2]:
        node.report()

    text = {name: m.metrics.exposition()[0].decode() for name, m in (("honest", honest), ("byzantine", byzantine))}
    assert f'fedpm_fl_dissent_total{{task="{env.task_id}"}} 1.0' in text["byzantine"]
    assert f'fedpm_fl_dissent_total{{task="{env.task_id}"}}' not in text["honest"]  # never incremented: no series
    for t in text.values():
        assert f'fedpm_fl_rounds_total{{outcome="finalized",task="{env.task_id}"}} 1.0' in t
        assert f'fedpm_fl_transaction_seconds_count{{action="vote",task="{env.task_id}"}} 1.0' in t
        assert f'fedpm_fl_round_deadline_timestamp_seconds{{task="{env.task_id}"}} +Inf' in t


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.mark.usefixtures("snapshot")
def test_prometheus_scrapes_gateway_node_and_service_and_alertmanager_receives_the_rul_alert(consortium, ctx, tmp_path):
    from tests.conftest import make_settings

    prometheus, alertmanager = require("prometheus"), require("alertmanager")
    home = tmp_path / "home"
    env = fl_env(consortium, home / "store", tmp_path / "work")
    node = NodeMetrics()
    env.finalize(1.0, events=node)
    machine = LiveMachine(consortium, home / "sensors" / "gateway.sqlite", M)
    hook = HTTPServer(("127.0.0.1", 0), type("Hook", (_Webhook,), {"received": []}))
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    stops, procs = [], []
    try:
        machine.stream(LIFE - 10)  # 50 cycles: predicted RUL 20.8, below the turbofan's 30 (plan), above its 10 (stop)
        settings = make_settings(home, ctx.settings.chain.rpc_url, **{"chain.deployment_file": ctx.deployment_path, "serve.task": env.task_id,
                                                                      "serve.default_class": "turbofan"})
        service = start_service(settings)
        stops.append(service.stop)
        assert requests.get(f"{service.url}/machines/{M}/health", timeout=30).json()["rul"] < 30
        gw_url, stop = gateway_metrics(machine.gateway).serve()
        stops.append(stop)
        node_url, stop = node.metrics.serve()
        stops.append(stop)

        am_port, prom_port = free_port(), free_port()
        (tmp_path / "am.yml").write_text(yaml.safe_dump({
            "route": {"receiver": "test", "group_by": ["alertname", "machine"], "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "test", "webhook_configs": [{"url": f"http://127.0.0.1:{hook.server_port}/alert"}]}]}))
        procs.append(_start([alertmanager, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am'}",
                             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], tmp_path / "am.log"))
        host = lambda url: url.split("/")[2]  # noqa: E731
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "fedpm", "static_configs": [
                {"targets": [host(service.url)], "labels": {"component": "service"}},
                {"targets": [host(gw_url)], "labels": {"component": "gateway"}},
                {"targets": [host(node_url)], "labels": {"component": "aggregator"}}]}]}))
        procs.append(_start([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], tmp_path / "prometheus.log"))

        def alerts() -> list[dict]:
            return [a for batch in hook.RequestHandlerClass.received for a in batch["alerts"]]

        def fired() -> bool:
            return any(a["labels"]["alertname"] == "MachineMaintenanceDue" for a in alerts())

        logs = lambda: {p: (tmp_path / p).read_text()[-1500:] for p in ("prometheus.log", "am.log")}  # noqa: E731
        assert wait_for(fired, 90), logs()

        def value(q: str) -> list:
            r = requests.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": q}, timeout=10).json()
            return sorted((s["metric"].get("component", ""), float(s["value"][1])) for s in r["data"]["result"])

        # the alert can fire before Prometheus has scraped the other targets once (a busy machine): wait for a sample
        # of each query, then read them
        queries = ('up{job="fedpm"}', "fedpm_gateway_readings_anchored_total", 'fedpm_fl_rounds_total{outcome="finalized"}', "fedpm_model_round")
        assert wait_for(lambda: len(value(queries[0])) == 3 and all(value(q) for q in queries[1:]), 60), logs()
        up = value('up{job="fedpm"}')
        anchored = value("fedpm_gateway_readings_anchored_total")
        finalized = value('fedpm_fl_rounds_total{outcome="finalized"}')
        served = value("fedpm_model_round")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        for stop in stops:
            stop()
        hook.shutdown()
        machine.stop()

    due = [a for a in alerts() if a["labels"]["alertname"] == "MachineMaintenanceDue"]
    assert due[0]["status"] == "firing" and due[0]["labels"]["machine"] == M and due[0]["labels"]["component"] == "service"
    assert "plan maintenance" in due[0]["annotations"]["summary"]
    assert not [a for a in alerts() if a["labels"]["alertname"] == "MachineMustStop"]  # 20.8 cycles is above the stop level
    assert up == [("aggregator", 1.0), ("gateway", 1.0), ("service", 1.0)]
    assert anchored == [("gateway", float(machine.sent))]
    assert finalized == [("aggregator", 1.0)] and served == [("service", 1.0)]


def test_prometheus_scrapes_every_fedpm_process_of_the_compose_file_that_serves_metrics():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    config = yaml.safe_load((REPO / "monitoring" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "fedpm")
    targets = sorted(t for sc in job["static_configs"] for t in sc["targets"])
    serving = sorted(f"{name}:{c[c.index('--metrics') + 1].rsplit(':', 1)[1]}" for name, s in compose["services"].items()
                     if "--metrics" in (c := s.get("command") or []))
    services = sorted(f"{name}:{c[c.index('--port') + 1]}" for name, s in compose["services"].items() if (c := s.get("command") or [])[:1] == ["serve"])
    assert len(serving) == 12 and len(services) == 1 and targets == sorted(serving + services)
