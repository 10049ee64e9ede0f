"""The explorer's leases, federated learning and device-key pages (JSON API and HTML) against a real anvil."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from eth_utils import keccak

from chain.deploy import Deployment
from chain.node import free_port
from fedpm.explorer.server import start_explorer
from fl_node.coordinator import publish_task, round_report
from fl_node.rounds import FederatedLearning
from fl_node.storage.local import LocalStore
from tests.conftest import make_settings
from tests.explorer_helpers import SPEC, model, record_device_history, record_fl_history, record_leases
from tests.test_explorer_api import explorer, get, settings  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("snapshot")


@pytest.fixture
def fl_history(consortium, tmp_path):
    return record_fl_history(consortium, tmp_path / "fl")


@pytest.fixture
def leases(consortium):
    return record_leases(consortium)


def test_fl_api_shows_rounds_votes_exclusions_and_failures(explorer, fl_history):
    status, ctype, body = get(f"{explorer}/api/fl")

    data = json.loads(body)
    (task,) = data["tasks"]
    r1, r2 = task["rounds"]
    addr, names = fl_history["addr"], data["names"]
    final = fl_history["fl"].round(fl_history["task_id"], 1)
    assert status == 200 and ctype == "application/json" and data["available"] is True
    assert (task["task_id"], task["rounds_started"], task["rounds_finalized"], task["done"]) == (fl_history["task_id"], 2, 1, False)
    assert (r1["state"], r1["model_hash"], r1["model_cid"]) == ("finalized", "0x" + final.result_hash.hex(), final.result_cid)
    assert {names[v["aggregator"]]: v["verdict"] for v in r1["votes"]} == {"agg-3": "dissent", "agg-1": "agree", "agg-2": "agree"}
    assert r1["excluded"] == [addr["factory-2"]] and r1["dissenters"] == [addr["agg-3"]]
    assert [(p["trainer"], p["excluded"]) for p in r1["participants"]] == [(addr["factory-1"], False), (addr["factory-3"], False), (addr["factory-2"], True)]
    assert r1["mean_loss"] == pytest.approx((10 * 0.9 + 30 * 0.7 + 20 * 0.8) / 60)
    assert r2["state"] == "failed" and r2["failure"] and r2["model_hash"] is None and r2["failed"]["block"] > r1["finalized"]["block"]


def test_fl_api_carries_the_tx_hash_and_block_of_every_event(explorer, fl_history):
    _, _, body = get(f"{explorer}/api/fl")

    (task,) = json.loads(body)["tasks"]
    r1 = task["rounds"][0]
    by_trainer = {p["trainer"]: (p["tx"], p["block"]) for p in r1["participants"]}
    for (r, org), rcpt in fl_history["commits"].items():
        if r == 1:
            assert by_trainer[fl_history["addr"][org]] == (rcpt.tx_hash, rcpt.block_number)
    names = [e["event"] for e in r1["events"]]
    assert names[0] == "RoundOpened" and "CommitsClosed" in names and "RoundFinalized" in names and "AggregatorsDissented" in names
    assert all(e["tx"].startswith("0x") and len(e["tx"]) == 66 and e["block"] > 0 for e in r1["events"])
    assert task["created"]["block"] <= r1["opened"]["block"] <= r1["finalized"]["block"]


def test_round_report_keeps_its_fields_and_gains_chain_refs(fl_history):
    rep = round_report(fl_history["fl"], fl_history["task_id"], 1)

    assert rep.state == "finalized" and rep.dissenters == [fl_history["addr"]["agg-3"]] and len(rep.gas_vote) == 3
    assert rep.ref("RoundFinalized").block > rep.ref("RoundOpened").block
    assert rep.ref("UpdateCommitted", fl_history["addr"]["factory-1"]).tx == fl_history["commits"][(1, "factory-1")].tx_hash


def test_fl_page_html_shows_badges_hashes_and_a_loss_chart(explorer, fl_history):
    status, ctype, page = get(f"{explorer}/fl")

    _, _, body = get(f"{explorer}/api/fl")
    r1 = json.loads(body)["tasks"][0]["rounds"][0]
    assert status == 200 and ctype.startswith("text/html")
    assert f'data-model-hash="{r1["model_hash"]}"' in page and 'data-verdict="dissent"' in page and page.count('data-verdict="agree"') == 2
    assert 'data-state="failed"' in page and 'class="badge excluded"' in page and '<figure class="chart" data-points="2">' in page
    assert all(f'data-tx="{e["tx"]}"' in page for e in r1["events"])
    assert '<a href="/fl" aria-current="page" data-nav="fl">' in page and 'src="http' not in page and "<script" not in page


def test_trainer_supplied_text_is_escaped_on_the_fl_page(explorer, consortium, tmp_path):
    fl = FederatedLearning(consortium.ctx)
    trainer = consortium.accounts["factory-1"].address
    task_id = publish_task(fl, consortium.sender("gov-a"), LocalStore(tmp_path / "s"), SPEC, model(0.0), trainers=[trainer],
                           aggregators=[consortium.accounts["agg-1"].address], rounds=1, min_participants=1)
    r = fl.open_round(consortium.sender("gov-a"), task_id)
    fl.commit(consortium.sender("factory-1"), task_id, r, keccak(b"u"), '<img src=x onerror=alert(1)>"&', 1, 0.5)

    _, _, page = get(f"{explorer}/fl")

    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;&quot;&amp;" in page


def test_leases_api_lists_every_lease_with_status_money_and_chain_refs(explorer, leases):
    status, _, body = get(f"{explorer}/api/leases")

    data = json.loads(body)
    by_id = {x["leaseId"]: x for x in data["leases"]}
    active = by_id[leases["active"]]
    assert status == 200 and data["available"] is True and sorted(by_id) == [1, 2, 3]
    assert {i: x["status"] for i, x in by_id.items()} == {leases["closed"]: "Closed", leases["active"]: "Active", leases["offered"]: "Offered"}
    assert (active["machineId"], active["lessee"]["org"], active["display"]["deposited"], active["display"]["charged"]) == ("factory-2-m1", "factory-2", "30", "10")
    assert active["display"]["tariff"] == "2 FCT/operatingHour" and active["tariff"]["tariffId"] == "t-hour-2"
    assert by_id[leases["closed"]]["display"]["refunded"] == "14" and all(x["reconciled"] for x in data["leases"])
    assert [(line["kind"], line["tx"], line["block"]) for line in active["lines"]] == [
        (k, r.tx_hash, r.block_number) for k, r in zip(("offer", "accept", "usage"), leases["receipts"])]


def test_machine_page_shows_only_the_leases_of_that_machine(explorer, leases):
    _, _, body = get(f"{explorer}/api/machines/factory-2-m1")
    _, _, page = get(f"{explorer}/machines/factory-2-m1")
    _, _, none = get(f"{explorer}/api/machines/factory-4-m1")

    section = json.loads(body)["sections"]["leases"]
    assert [x["leaseId"] for x in section["leases"]] == [leases["active"]]
    assert json.loads(none)["sections"]["leases"] == {"available": True, "leases": []}
    assert '<section id="leases"><h2>Leases</h2>' in page and f'data-lease="{leases["active"]}" data-status="Active"' in page
    assert f'data-lease="{leases["closed"]}"' not in page


def test_leases_page_html_has_status_badges_and_every_tx(explorer, leases):
    status, _, page = get(f"{explorer}/leases")

    assert status == 200 and '<a href="/leases" aria-current="page" data-nav="leases">' in page
    assert 'class="badge closed" data-status="closed">Closed' in page and 'class="badge active" data-status="active">Active' in page
    assert all(f'data-tx="{r.tx_hash}"' in page and f'data-block="{r.block_number}"' in page for r in leases["receipts"])
    assert 'href="/machines/factory-3-m1"' in page


def test_empty_chain_pages_say_so(explorer):
    s1, _, fl_page = get(f"{explorer}/fl")
    s2, _, lease_page = get(f"{explorer}/leases")
    _, _, body = get(f"{explorer}/api/fl")

    assert (s1, s2) == (200, 200) and json.loads(body)["tasks"] == []
    assert 'id="empty"' in fl_page and "No federated learning task yet" in fl_page
    assert 'id="empty"' in lease_page and "No leases yet" in lease_page


def test_missing_contracts_give_a_clear_page(tmp_path, anvil, consortium):
    deployment = Deployment.load(consortium.ctx.deployment_path)
    trimmed = replace(deployment, contracts={k: v for k, v in deployment.contracts.items() if k not in ("MachineLease", "FederatedLearning")})
    trimmed.save(tmp_path / "partial.json")
    url, stop = start_explorer(make_settings(tmp_path, anvil.url, **{"chain.deployment_file": tmp_path / "partial.json"}), "127.0.0.1", 0)
    try:
        s1, _, fl_page = get(f"{url}/fl")
        s2, _, body = get(f"{url}/api/leases")
        _, _, machine = get(f"{url}/api/machines/factory-1-m1")
    finally:
        stop()

    assert (s1, s2) == (200, 200) and "no FederatedLearning contract deployed" in fl_page and "Traceback" not in fl_page
    assert json.loads(body) | {"chain": None} == {"chain": None, "available": False, "message": "no MachineLease contract deployed"}
    assert json.loads(machine)["sections"]["leases"]["available"] is False


@pytest.mark.parametrize("path", ["/fl", "/leases"])
def test_unreachable_rpc_and_undeployed_chain_give_clear_pages(tmp_path, anvil, path):
    dead = f"http://127.0.0.1:{free_port()}"
    url, stop = start_explorer(make_settings(tmp_path / "dead", dead), "127.0.0.1", 0)
    url2, stop2 = start_explorer(make_settings(tmp_path / "fresh", anvil.url), "127.0.0.1", 0)
    try:
        s1, _, page = get(url + path)
        s2, _, body = get(f"{url}/api{path}")
        s3, _, fresh = get(url2 + path)
    finally:
        stop()
        stop2()

    assert (s1, s2, s3) == (503, 503, 503)
    assert "Chain node unreachable" in page and "Traceback" not in page and json.loads(body)["title"] == "Chain node unreachable"
    assert "No consortium deployed" in fresh and '<nav aria-label="Explorer sections">' in fresh


def test_device_key_api_shows_each_key_with_who_bound_and_revoked_it_and_the_waiting_change(explorer, consortium):
    h = record_device_history(consortium)

    status, _, body = get(f"{explorer}/api/machines/{h['machine']}")
    page = get(f"{explorer}/machines/{h['machine']}")[2]

    section = json.loads(body)["sections"]["device_keys"]
    first, second, third = h["keys"]
    assert status == 200 and [(k["device"], k["status"], k["rotatedIn"]) for k in section["keys"]] == [(first, "retired", False), (second, "revoked", True)]
    revoked = section["keys"][1]["revoked"]
    assert (revoked["by"], revoked["approved_by"], revoked["tx"]) == (consortium.accounts["maker"].address, consortium.accounts["factory-3"].address,
                                                                      h["approved"].tx_hash)
    assert section["keys"][0]["validUntil"] == section["keys"][1]["validFrom"]  # the rotation point
    assert section["waiting"]["hash"] == "0x" + h["waiting"].change_hash.hex() and section["lock"]["lesseeOrg"] == "factory-3"
    assert page.index('<section id="device_keys">') < page.index('<section id="sensor_batches">') and f'data-device="{second}"' in page
