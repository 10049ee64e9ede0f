"""The demo's last act: the prediction service on the final global model, a held-out C-MAPSS engine replayed as a live
machine until it degrades, the alert, the maintenance record answering it hashed on chain and audited, and the
engine's verified history turned into labeled training data. Writes the fleet-health plot.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import requests

from fedpm.maintenance.client import MaintenanceLog, add_record, audit_machine
from fedpm.maintenance.records import Kind, Record
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.prognostics.journal import Journal, journal_path
from fedpm.prognostics.labels import histories_of, write_training_file
from fedpm.prognostics.timeline import format_timeline, machine_timeline
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.cmapss_source import EngineReplay
from fedpm.sensors.device import Device
from fedpm.sensors.feed import VerifiedFeed
from fedpm.sensors.gateway import Gateway, GatewayConfig
from fedpm.sensors.store import GatewayStore, gateway_store_path
from fedpm.service.server import start_service
from fedpm.settings import Settings
from ground.errors import FedpmError
from tasks.rul import cmapss

MACHINE = "factory-1-m1"


def run_service_demo(consortium: Any, settings: Settings, task_id: int, engines: cmapss.Engines, unit: int, out: Path,
                     info: Callable[[str], None] = print, chunk: int = 5) -> dict[str, Any]:
    """Serve task `task_id`, replay engine `unit` as MACHINE until its stop alert, answer it; returns a summary."""
    home = settings.home
    fleet = home / "fleet.json"
    fleet.write_text(json.dumps({"machines": {MACHINE: "turbofan"}}))
    settings = replace(settings, serve=replace(settings.serve, task=task_id, fleet=fleet, poll_interval_s=0.5))
    store_path = gateway_store_path(home)
    ctx = consortium.ctx
    registry = SensorBatchRegistry(ctx)
    replay = _replay(consortium, registry, store_path, engines, unit)
    gateway = Gateway(GatewayConfig(store_path=store_path, batch_size=10**6, max_age_s=3600), consortium.sender("factory-1"), registry,
                      DeviceBindings(consortium.registry))
    gateway.start()
    running = start_service(settings, log=lambda line: info(f"service: {line}"))
    info(f"prediction service at {running.url} serving task {task_id} (OpenAPI {running.url}/docs); engine {unit} replayed as {MACHINE}, "
         f"{replay.life} cycles to failure")
    trend, alerts = [], {}
    sent = _anchored(store_path)  # the store also holds the sensor demo's readings: count the replay's on top
    healthy = max(0, replay.life - 150)  # cycles long before any alert: streamed in one go
    try:
        while replay.cycle < replay.life:
            blocks = replay.blocks(healthy if replay.cycle == 0 and healthy else chunk)
            for signed in blocks:
                gateway.submit_block(signed)
            sent += len(blocks)
            gateway.request_flush()
            _wait_anchored(store_path, sent)
            h = requests.get(f"{running.url}/machines/{MACHINE}/health", timeout=60).json()
            if h["prediction"]:
                trend.append({"cycle": replay.cycle, "rul": h["rul"], "true_rul": replay.life - replay.cycle, "round": h["model"]["round"]})
            alert = h.get("alert")
            if alert and alert["id"] not in alerts:
                alerts[alert["id"]] = alert | {"cycle": replay.cycle}
                info(f"cycle {replay.cycle:>3}: ALERT {alert['level']} — predicted RUL {alert['rul']:.1f} < {alert['threshold']:g} "
                     f"(true {replay.life - replay.cycle}); advice: {alert['action']}")
                info(f"           provenance: model {alert['model_hash'][:18]}… round {alert['round']}, {len(alert['batches'])} anchored input batch(es); id {alert['id']}")
            if alert and alert["level"] == "stop":
                break
        metrics = requests.get(f"{running.url}/metrics", timeout=30).text
    finally:
        running.stop()
        gateway.stop()
    last = list(alerts.values())[-1] if alerts else None
    if last is None:  # an undertrained model (e.g. one round) may miss the failure: record the failure itself
        info(f"no alert before engine {unit} failed at cycle {replay.cycle}: recording the failure")
        record = Record(machine=MACHINE, time=int(time.time()), kind=Kind.FAULT, component="high-pressure compressor module",
                        description="engine failed without an alert", technician_org="factory-1", technician="tech-demo")
    else:
        record = Record(machine=MACHINE, time=int(time.time()), kind=Kind.PART_REPLACEMENT, component="high-pressure compressor module",
                        description=f"replaced on the {last['level']} alert at predicted RUL {last['rul']:.1f}", technician_org="factory-1",
                        technician="tech-demo", answers=last["id"])
    with RecordStore(record_store_path(home), create=True) as store:
        result, _ = add_record(store, record, lambda: MaintenanceLog(ctx), lambda: consortium.sender("factory-1"))
        report = audit_machine(MaintenanceLog(ctx), store, MACHINE)
    what = f"answers alert {last['id'][:12]}…" if last else "records the failure"
    info(f"maintenance record {result.record_hash} {what}: {result.status} (tx {result.tx_hash}, block {result.block}); audit "
         f"{'verified' if report.ok else 'found discrepancies'}")
    journal = Journal(journal_path(home))
    try:
        timeline = machine_timeline(MACHINE, journal.predictions(MACHINE), journal.alerts(MACHINE), report)
    finally:
        journal.close()
    print("    " + format_timeline(timeline).replace("\n", "\n    "))
    feed = VerifiedFeed(store_path, SensorBatchRegistry(ctx))
    try:
        histories = histories_of(home, ctx, feed, MACHINE)
    finally:
        feed.close()
    labeled = write_training_file(histories, out / "data" / "factory-1-failures.txt")
    h = histories[-1]
    info(f"feedback: {MACHINE}'s {len(h.ts)} verified cycles up to the replacement, labeled {int(h.rul[0])}..0 cycles of true remaining life, "
         f"written to {labeled} for `fedpm node train --data`")
    plot_health(trend, list(alerts.values()), replay.cycle, out / "fleet_health.png", unit)
    return {"machine": MACHINE, "engine_unit": unit, "life": replay.life, "stopped_at_cycle": replay.cycle, "predictions": trend,
            "alerts": [{k: a[k] for k in ("id", "level", "rul", "threshold", "round", "model_hash", "cycle")} for a in alerts.values()],
            "answer": {"record_hash": result.record_hash, "status": result.status, "tx": result.tx_hash, "block": result.block},
            "audit_ok": report.ok, "answered": [a["id"] for a in timeline["alerts"] if a["answered"]],
            "labels": {"file": str(labeled), "cycles": int(len(h.ts)), "first_true_rul": int(h.rul[0])},
            "metrics_alerts": sum(1 for line in metrics.splitlines() if line.startswith("fedpm_alerts_total{"))}


def _replay(consortium: Any, registry: SensorBatchRegistry, store_path: Path, engines: cmapss.Engines, unit: int) -> EngineReplay:
    """Engine `unit` replayed as MACHINE, signed by the machine's device key (bound by its maker at bootstrap) and
    continuing its seqs in the gateway's store, its cycles stamped between the key's bind time and now."""
    account = consortium.devices[MACHINE]
    device = Device.of(MACHINE, account, registry.signing_domain())
    st = GatewayStore(store_path, create=True)
    try:
        last = [s["last_seq"] for s in st.reception(MACHINE)["streams"] if s["device"] == device.address]
    finally:
        st.close()
    device.seqs.next = last[0] + 1 if last else 0
    view = consortium.registry.device(account.address)
    if view is None:
        raise FedpmError(f"device {account.address} of {MACHINE} is not bound", hint="bootstrap the consortium with the machine's device")
    return EngineReplay.in_past(device, engines.subset([unit]).series[0], int(time.time() * 1000), view.valid_from * 1000)


def _anchored(store_path: Path) -> int:
    st = GatewayStore(store_path)
    try:
        return st.counts().get("readings_anchored", 0)
    finally:
        st.close()


def _wait_anchored(store_path: Path, readings: int, timeout: float = 60.0) -> None:
    st = GatewayStore(store_path)
    try:
        deadline = time.monotonic() + timeout
        while st.counts().get("readings_anchored", 0) < readings:
            if time.monotonic() > deadline:
                raise FedpmError(f"the gateway anchored {st.counts().get('readings_anchored', 0)} of {readings} readings in {timeout:.0f}s",
                                 hint="is the chain producing blocks?")
            time.sleep(0.05)
    finally:
        st.close()


def plot_health(trend: list[dict[str, Any]], alerts: list[dict[str, Any]], stopped: int, path: Path, unit: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4), dpi=120)
    cycles = [p["cycle"] for p in trend]
    ax.plot(cycles, [p["rul"] for p in trend], marker=".", label="predicted RUL (served global model)")
    ax.plot(cycles, [min(p["true_rul"], 125) for p in trend], linestyle="--", color="tab:green", label="true RUL (capped at 125)")
    for level, y, color in (("plan", 30, "tab:orange"), ("stop", 10, "tab:red")):
        ax.axhline(y, color=color, linestyle=":", linewidth=1)
        ax.text(cycles[0] if cycles else 0, y + 1, f"{level} < {y}", color=color, fontsize=8)
    for a in alerts:
        ax.axvline(a["cycle"], color="tab:red" if a["level"] == "stop" else "tab:orange", alpha=0.6)
        ax.annotate(f"{a['level']} alert", (a["cycle"], a["rul"]), textcoords="offset points", xytext=(-70, 45), fontsize=8,
                    arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.annotate("part replaced\n(record on chain)", (stopped, 0), textcoords="offset points", xytext=(-170, 8), fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.set_xlabel(f"cycle of engine {unit} (held out from every factory)")
    ax.set_ylabel("remaining useful life (cycles)")
    ax.set_title("fedpm: machine health from verified data, predicted by the on-chain model")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
