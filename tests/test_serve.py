"""The prediction service on a real anvil, a real gateway store and a real uvicorn: predictions from verified data only,
with their provenance; hot swap to a newly finalized round under concurrent requests; rollback; faults (content store
and chain down, tampered model bytes) keep the last verified version serving; alerts answered by maintenance records."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.models.choice import ChoiceLog, choice_log_path
from fedpm.models.registry import ModelRegistry
from fedpm.prognostics.alerts import Fleet
from fedpm.prognostics.journal import Journal, journal_path
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.encoding import encode_frames, iter_frames, parse_signed
from fedpm.sensors.feed import VerifiedFeed
from fedpm.service.engine import HealthService
from fedpm.service.server import start_service
from fl_node.storage.local import LocalStore
from tests.conftest import make_settings
from tests.sensor_helpers import TcpProxy, wait_for
from tests.serve_helpers import LIFE, WINDOW, LiveMachine, expected_rul, fl_env

pytestmark = pytest.mark.usefixtures("snapshot")
M = "factory-1-m1"
FLEET = '{"machines": {"factory-1-m1": "turbofan", "factory-2-m1": "press"}, "classes": {"press": {"task_kind": "press_rul", "rules": []}}}'


@pytest.fixture
def world(snapshot, consortium, ctx, tmp_path):  # the snapshot first, also where a plugin resolves `world` itself (schemathesis)
    home = tmp_path / "home"
    (home / "fleet.json").parent.mkdir(parents=True, exist_ok=True)
    (home / "fleet.json").write_text(FLEET)
    env = fl_env(consortium, home / "store", tmp_path / "work")
    machine = LiveMachine(consortium, home / "sensors" / "gateway.sqlite", M)
    settings = make_settings(home, ctx.settings.chain.rpc_url, **{"chain.deployment_file": ctx.deployment_path, "serve.task": env.task_id,
                                                                  "serve.fleet": home / "fleet.json", "serve.poll_interval_s": 0.1})
    yield env, machine, settings
    machine.stop()


def service_for(settings, ctx, store: LocalStore | None = None, url: str | None = None) -> HealthService:
    """The service `open_service` wires, optionally over another chain URL or store (to take them down)."""
    from chain.connect import connect
    from fl_node.rounds import FederatedLearning

    c = connect(make_settings(settings.home, url, **{"chain.deployment_file": ctx.deployment_path})) if url else ctx
    return HealthService(settings.serve.task, ModelRegistry(FederatedLearning(c), store or LocalStore(settings.store_dir), retries=0),
                         ChoiceLog(choice_log_path(settings.home)), VerifiedFeed(settings.home / "sensors" / "gateway.sqlite", SensorBatchRegistry(c)),
                         Fleet.load(settings.serve.fleet), Journal(journal_path(settings.home)), RecordStore(record_store_path(settings.home)))


def test_health_comes_from_verified_data_with_its_provenance(world, ctx):
    env, machine, settings = world
    env.finalize(1.0)
    machine.stream(WINDOW - 1)
    running = start_service(settings)
    try:
        base = running.url
        too_few = requests.get(f"{base}/machines/{M}/health", timeout=30).json()
        machine.stream(11)  # 20 cycles now
        ok = requests.get(f"{base}/machines/{M}/health", timeout=30).json()
        other = requests.get(f"{base}/machines/factory-2-m1/health", timeout=30).json()
        status = requests.get(f"{base}/health", timeout=30).json()
    finally:
        running.stop()

    assert too_few["prediction"] is False and too_few["reason"] == "too-few" and f"{WINDOW - 1} verified cycle(s)" in too_few["detail"]
    assert ok["prediction"] is True, (ok["reason"], ok["detail"])
    assert ok["rul"] == pytest.approx(expected_rul(20, 1.0), abs=0.05)
    assert ok["model"]["round"] == 1 and ok["model"]["model_hash"] == status["model"]["model_hash"]
    assert ok["window"] == {"from_ms": machine.replay.ts_of(10), "to_ms": machine.replay.ts_of(19), "cycles": WINDOW, "verified_cycles": 20}
    channels = 24  # one signed block per channel and cycle
    assert [(b["first_seq"], b["last_seq"]) for b in ok["batches"]] == [(9 * channels, 20 * channels - 1)]  # cycles 11..20 all came in the second batch
    b = ok["batches"][0]
    second = SensorBatchRegistry(ctx).anchors()[-1]  # the last root anchored: the one over the second batch
    stored = sqlite3.connect(machine.store_path).execute("SELECT root FROM batches WHERE machine = ? AND first_seq = ?", (M, 9 * channels)).fetchone()
    assert b["device"] == machine.replay.device.address and b["root"] == "0x" + stored[0].hex()
    assert b["anchor"] == "0x" + second.root.hex() and b["tx_hash"] == second.tx_hash and b["block"] == second.block_number
    assert other["prediction"] is False and other["reason"] == "wrong-class" and "press" in other["detail"]
    assert status["status"] == "ok" and status["choice"]["follows_latest"] is True


def test_tampered_or_missing_data_gives_no_prediction_but_a_reason(world, ctx):
    env, machine, settings = world
    env.finalize(1.0)
    machine.stream(15)
    service = service_for(settings, ctx)
    service.refresh()
    assert service.health(M)["prediction"] is True

    db = sqlite3.connect(machine.store_path)  # the gateway operator edits one stored reading after anchoring
    bid, raw = db.execute("SELECT id, data FROM batches WHERE machine = ? ORDER BY id DESC LIMIT 1", (M,)).fetchone()
    frames = list(iter_frames(raw))
    blk = parse_signed(frames[3])
    frames[3] = blk.block[:-8] + np.array([blk.values()[-1] * 0.5], dtype=">f8").tobytes() + blk.signature
    db.execute("UPDATE batches SET data = ? WHERE id = ?", (encode_frames(frames), bid))
    db.commit()
    db.close()
    fresh = service_for(settings, ctx)  # a new feed: the tampered batch is read for the first time
    fresh.refresh()
    tampered = fresh.health(M)
    machine.stream(15, skip={machine.replay.device.seqs.next + 5})  # one block of the next cycles never reaches the gateway
    gap = service_for(settings, ctx)
    gap.refresh()
    with_gap = gap.health(M)

    assert tampered["prediction"] is False and tampered["reason"] == "unverified" and "forged" in tampered["detail"]  # not what its device signed
    assert with_gap["prediction"] is False and with_gap["reason"] in ("gap", "unverified"), with_gap


def test_a_new_round_is_served_without_dropping_a_request(world):
    env, machine, settings = world
    env.finalize(1.0)
    machine.stream(20)
    running = start_service(settings, poll=0.1)
    seen: list[tuple[int, int]] = []  # (round, status) of every answer
    errors: list[str] = []
    stop = threading.Event()

    def client(path: str, body: dict | None) -> None:
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.post(running.url + path, json=body, timeout=30) if body else s.get(running.url + path, timeout=30)
                seen.append((r.json()["model"]["round"], r.status_code))
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(repr(exc))

    window = {"features": ["s2", "s3"], "windows": [[[0.5, 100.0]] * WINDOW]}
    threads = [threading.Thread(target=client, args=(f"/machines/{M}/health", None)) for _ in range(3)]
    threads += [threading.Thread(target=client, args=("/predict", window))]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        finalized = time.monotonic()
        env.finalize(0.8)
        swapped = wait_for(lambda: seen and seen[-1][0] == 2, 20)
        swap_s = time.monotonic() - finalized
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        running.stop()

    assert swapped and not errors, errors[:3]
    assert all(code == 200 for _, code in seen) and {r for r, _ in seen} == {1, 2}
    assert swap_s < 10, swap_s  # the bench measures it properly; here: it follows by itself
    after = seen[[r for r, _ in seen].index(2):]
    assert all(r == 2 for r, _ in after[len(threads):]), "a request after the swap was answered by the old model"


def test_rollback_is_served_and_logged(world):
    env, machine, settings = world
    env.finalize(1.0)
    env.finalize(0.8)
    machine.stream(20)
    running = start_service(settings, poll=0.1)
    log = ChoiceLog(choice_log_path(settings.home))
    try:
        latest = requests.get(f"{running.url}/machines/{M}/health", timeout=30).json()
        log.pin(ModelRegistry(env.fl, env.store).version(env.task_id, 1), reason="test rollback")
        assert wait_for(lambda: requests.get(f"{running.url}/health", timeout=30).json()["model"]["round"] == 1, 20)
        pinned = requests.get(f"{running.url}/machines/{M}/health", timeout=30).json()
        log.follow_latest(env.task_id)
        assert wait_for(lambda: requests.get(f"{running.url}/health", timeout=30).json()["model"]["round"] == 2, 20)
    finally:
        running.stop()

    assert latest["model"]["round"] == 2 and latest["rul"] == pytest.approx(expected_rul(20, 0.8), abs=0.05)
    assert pinned["model"]["round"] == 1 and pinned["rul"] == pytest.approx(expected_rul(20, 1.0), abs=0.05)
    served = Journal(journal_path(settings.home)).served_log()
    assert [e["event"] for e in served] == ["loaded", "pinned", "swapped"]


def test_store_or_chain_down_keeps_the_last_verified_version_and_says_so(world, anvil, ctx):
    env, machine, settings = world
    env.finalize(1.0)
    machine.stream(20)
    proxy = TcpProxy(int(anvil.url.rsplit(":", 1)[1])).start()
    broken = LocalStore(settings.home / "empty-store")  # a store that does not have round 2's bytes
    service = service_for(settings, ctx, store=LocalStore(settings.store_dir), url=proxy.url)
    service.refresh()
    service.registry.store = broken
    env.finalize(0.8)

    line = service.refresh()
    store_down = service.status(), service.health(M)
    proxy.stop()
    service.refresh()
    chain_down = service.status(), service.health(M)
    metrics = service.metrics.metrics.exposition()[0].decode()

    assert "content store unreachable" in line
    for status, health in (store_down, chain_down):
        assert status["status"] == "stale" and status["model"]["round"] == 1
        assert health["prediction"] is True and health["model"]["round"] == 1 and health["stale"]
    assert "chain unreachable" in chain_down[0]["stale_reason"]
    assert 'fedpm_model_stale{task="%d"} 1.0' % env.task_id in metrics
    assert 'fedpm_model_refresh_errors_total{reason="store",task="%d"}' % env.task_id in metrics


def test_malformed_requests_get_4xx_with_a_message(world):
    env, machine, settings = world
    env.finalize(1.0)
    running = start_service(settings)
    bad = [
        ("GET", "/machines/nope/health", None, 404),
        ("GET", "/machines/" + "x" * 40 + "/health", None, 422),
        ("GET", "/machines/%00/health", None, 422),
        ("POST", "/predict", {"features": ["s2", "s3"]}, 422),
        ("POST", "/predict", {"features": ["s2", "s3"], "windows": [[[1.0, 2.0]]]}, 422),  # one cycle, the model needs 10
        ("POST", "/predict", {"features": ["s2"], "windows": [[[1.0]] * WINDOW]}, 422),  # s3 missing
        ("POST", "/predict", {"features": ["s2", "s3"], "windows": [[[1.0, "a"]] * WINDOW]}, 422),
        ("POST", "/predict", {"features": ["s2", "s3"], "windows": [[[1.0, 2.0, 3.0]] * WINDOW]}, 422),
        ("POST", "/predict", [1, 2], 422),
        ("GET", "/nowhere", None, 404),
    ]
    try:
        answers = [(requests.request(m, running.url + p, json=body, timeout=30), code) for m, p, body, code in bad]
        raws = [requests.post(running.url + "/predict", data=body, headers={"Content-Type": "application/json"}, timeout=30)
                for body in (b"{not json", b'{"features": ["s2", "s3"], "windows": [[' + b", ".join([b"[1e309, 2.0]"] * WINDOW) + b"]]}")]
        spec = requests.get(running.url + "/openapi.json", timeout=30).json()
    finally:
        running.stop()

    for r, code in answers + [(r, 422) for r in raws]:
        assert r.status_code == code, (r.request.url, r.status_code, r.text)
        assert r.json()["error"], r.text
    assert {"/health", "/machines", "/machines/{machine}/health", "/predict", "/metrics"} <= set(spec["paths"])


def test_an_alert_carries_provenance_and_a_maintenance_record_answers_it(world, consortium, ctx):
    from tests.sensor_helpers import fedpm, gateway_env

    env, machine, settings = world
    env.finalize(1.0)
    service = service_for(settings, ctx)
    service.refresh()
    machine.stream(30)
    assert service.health(M)["alert"] is None  # RUL 62.5: no rule applies
    machine.stream(LIFE - 30 - 10)  # 50 cycles: RUL 20.8 < 30
    plan = service.health(M)
    again = service.health(M)
    machine.stream(5)  # 55 cycles: RUL 10.4 - still plan
    machine.stream(2)  # 57: RUL 6.25 < 10
    stop = service.health(M)

    assert plan["alert"]["level"] == "plan" and plan["alert"]["model_hash"] == plan["model"]["model_hash"]
    assert again["alert"]["id"] == plan["alert"]["id"]  # raised once, not on every request
    assert plan["alert"]["batches"] and all(b.count(":") == 2 for b in plan["alert"]["batches"])
    assert stop["alert"]["level"] == "stop" and stop["alert"]["id"] != plan["alert"]["id"]

    cli_env = gateway_env(settings.home, ctx, consortium, {"factory-1": consortium.accounts["factory-1"]})
    added = fedpm("maintenance", "add", "--as", "factory-1", "--machine", M, "--kind", "part_replacement", "--component", "HPC module",
                  "--description", "replaced after the stop alert", "--technician", "tech-7", "--answers", stop["alert"]["id"], env=cli_env)
    wrong = fedpm("maintenance", "add", "--as", "factory-1", "--machine", "factory-2-m1", "--kind", "maintenance", "--component", "x",
                  "--description", "y", "--technician", "tech-7", "--answers", stop["alert"]["id"], env=cli_env)
    unknown = fedpm("maintenance", "add", "--as", "factory-1", "--machine", M, "--kind", "maintenance", "--component", "x",
                    "--description", "y", "--technician", "tech-7", "--answers", "0x" + "ab" * 32, env=cli_env)
    timeline = fedpm("health", "timeline", "--machine", M, "--json", env=cli_env)
    listed = fedpm("health", "alerts", "--machine", M, env=cli_env)
    labels = fedpm("health", "labels", "--machine", M, "-o", str(settings.home / "failures.txt"), env=cli_env)

    assert added.returncode == 0, added.stderr
    assert wrong.returncode == 1 and "is about factory-1-m1" in wrong.stderr
    assert unknown.returncode == 1 and "not in the prediction journal" in unknown.stderr
    import json

    t = json.loads(timeline.stdout)
    by_id = {a["id"]: a for a in t["alerts"]}
    assert by_id[stop["alert"]["id"]]["answered"] is True and by_id[stop["alert"]["id"]]["answers"][0]["verified"] is True
    assert by_id[stop["alert"]["id"]]["response_s"] is not None and t["open_alerts"] == [plan["alert"]["id"]]
    assert service.health(M)["alert"] is None  # answered; the same (old) data raises nothing new
    assert listed.returncode == 0 and plan["alert"]["id"] in listed.stdout and stop["alert"]["id"] in listed.stdout
    # the replacement closed the engine's history: its 57 verified cycles, labeled 56..0, in NASA's layout
    assert labels.returncode == 0 and "57 verified cycles" in labels.stdout, labels.stderr
    from tasks.rul import cmapss

    history = cmapss.load_file(settings.home / "failures.txt")
    assert history.units == (1,) and len(history.series[0]) == 57
