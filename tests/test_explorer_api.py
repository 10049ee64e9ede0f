"""The explorer's JSON API and HTML over HTTP against a real anvil: audit badges, escaping, error pages."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import pytest

from chain.node import free_port
from fedpm.explorer.sections import SectionRegistry, default_sections
from fedpm.explorer.server import start_explorer
from fedpm.maintenance.client import MaintenanceLog, add_record
from fedpm.maintenance.demo import record_demo_history
from fedpm.maintenance.records import Kind, Record
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.sensors.anchoring import Anchor
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.store import gateway_store_path
from tests.conftest import make_settings
from tests.explorer_helpers import record_sensor_batches
from tests.sensor_helpers import readings_t0, sign_blocks

pytestmark = pytest.mark.usefixtures("snapshot")


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@pytest.fixture
def settings(tmp_path, anvil, consortium):
    return make_settings(tmp_path, anvil.url, **{"chain.deployment_file": consortium.ctx.deployment_path})


@pytest.fixture
def explorer(settings):
    url, stop = start_explorer(settings, "127.0.0.1", 0)
    yield url
    stop()


@pytest.fixture
def history(consortium, settings):
    """Demo history on two machines, then one local record of factory-1-m1 edited after anchoring."""
    summary = record_demo_history(consortium, settings.home, ["factory-1-m1", "factory-2-m1"])
    edited = summary["machines"]["factory-1-m1"]["entries"][0]["hash"]
    with sqlite3.connect(record_store_path(settings.home)) as db:
        (canonical,) = db.execute("SELECT canonical FROM records WHERE record_hash = ?", (edited,)).fetchone()
        db.execute("UPDATE records SET canonical = ? WHERE record_hash = ?", (canonical.replace("2.1 mm/s", "1.2 mm/s"), edited))
    return summary


def test_machine_api_shows_badges_and_chain_references(explorer, history):
    status, ctype, body = get(f"{explorer}/api/machines/factory-1-m1")

    data = json.loads(body)
    items = data["sections"]["maintenance"]["items"]
    expected = history["machines"]["factory-1-m1"]["entries"]
    assert status == 200 and ctype == "application/json"
    assert [i["status"] for i in items] == ["altered", "verified", "verified", "verified"]
    assert [(i["chain"]["tx_hash"], i["chain"]["block"]) for i in items] == [(e["tx"], e["block"]) for e in expected]
    assert items[3]["chain"]["corrects"] == expected[1]["hash"] and items[2]["chain"]["author_org"] == "maker"

@pytest.fixture
def sensor_batches(consortium, settings):
    return record_sensor_batches(consortium, {"factory-1-m1": 2, "factory-2-m1": 1}, settings.home)


def test_sensor_api_lists_the_machines_batches_verified_against_their_anchor(explorer, consortium, settings, sensor_batches):
    machines = ("factory-1-m1", "factory-2-m1", "factory-3-m1")
    sections = {m: json.loads(get(f"{explorer}/api/machines/{m}")[2])["sections"]["sensor_batches"] for m in machines}

    for machine, section in sections.items():
        expected = [b["summary"].to_json() for b in sensor_batches if b["summary"].machine == machine]
        assert section["available"] is True
        assert [{k: v for k, v in b.items() if k not in ("status", "detail", "anchor")} for b in section["batches"]] == expected, machine
        assert all(b["status"] == "ok" and b["anchor"] == sensor_batches[0]["anchor"].to_json() for b in section["batches"])
    assert len(sections["factory-1-m1"]["batches"]) == 2 and sections["factory-3-m1"]["batches"] == []
    anchor = Anchor.from_json(sections["factory-1-m1"]["batches"][0]["anchor"])
    assert SensorBatchRegistry(consortium.ctx).is_anchored(anchor) and anchor.batches == 3  # one root of roots over all three

    with sqlite3.connect(gateway_store_path(settings.home)) as db:  # the gateway's operator alters a reading it stored
        (bid, data) = db.execute("SELECT id, data FROM batches WHERE machine = 'factory-1-m1' ORDER BY first_seq LIMIT 1").fetchone()
        db.execute("UPDATE batches SET data = ? WHERE id = ?", (data[:-66] + bytes([data[-66] ^ 1]) + data[-65:], bid))
    altered = json.loads(get(f"{explorer}/api/machines/factory-1-m1")[2])["sections"]["sensor_batches"]["batches"]
    assert [b["status"] for b in altered] == ["forged", "ok"] and "device" in altered[0]["detail"]


def test_machine_page_html_shows_each_batch_with_its_badge_tx_and_block(explorer, sensor_batches):
    _, _, page = get(f"{explorer}/machines/factory-1-m1")

    start = page.index('<section id="sensor_batches">')
    section = page[start:page.index("</section>", start)]
    mine = [b for b in sensor_batches if b["summary"].machine == "factory-1-m1"]
    assert section.count('<li class="card batch"') == len(mine) == 2
    anchor = mine[0]["anchor"]
    assert section.count(f'data-tx="{anchor.tx_hash}"') == 2 and f'data-block="{anchor.block_number}"' in section
    for b in mine:
        s = b["summary"]
        assert f'data-first="{s.first_seq}"' in section and f"blocks {s.first_seq}..{s.last_seq}</h3>" in section and "0x" + s.root.hex() in section
        assert f"<dt>readings</dt><dd>{s.readings}</dd>" in section
    assert section.count('data-status="verified"') == 2
    assert "No sensor batches of this machine" in get(f"{explorer}/machines/factory-3-m1")[2]


def test_machines_api_lists_registered_machines_with_audit_verdict(explorer, history):
    status, _, body = get(f"{explorer}/api/machines")

    machines = {m["id"]: m for m in json.loads(body)["machines"]}
    assert status == 200 and sorted(machines) == [f"factory-{i}-m1" for i in range(1, 5)]
    assert (machines["factory-1-m1"]["maintenance_ok"], machines["factory-2-m1"]["maintenance_ok"]) == (False, True)
    assert machines["factory-2-m1"]["maintenance_entries"] == 4 and machines["factory-3-m1"]["maintenance_ok"] is None


def test_machine_page_html_carries_badges_tx_hashes_and_blocks(explorer, history):
    status, ctype, page = get(f"{explorer}/machines/factory-2-m1")

    entries = history["machines"]["factory-2-m1"]["entries"]
    assert status == 200 and ctype.startswith("text/html")
    assert page.count('data-status="verified"') == 4
    for e in entries:
        assert f'data-tx="{e["tx"]}"' in page and f'data-block="{e["block"]}"' in page
    assert 'name="viewport"' in page and 'src="http' not in page and 'href="http' not in page  # nothing external


def test_everything_from_records_is_html_escaped(explorer, consortium, settings):
    hostile = Record(machine="factory-1-m1", time=1_700_000_000, kind=Kind.FAULT, component="<b>pump</b>",
                     description='<script>alert("x")</script> & "quotes"', technician_org="factory-1", technician="<img src=x onerror=alert(1)>")
    with RecordStore(record_store_path(settings.home), create=True) as store:
        add_record(store, hostile, lambda: MaintenanceLog(consortium.ctx), lambda: consortium.sender("factory-1"))

    _, _, page = get(f"{explorer}/machines/factory-1-m1")

    assert "<script>" not in page and "<img" not in page and "<b>pump" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page


def test_unknown_machine_and_path_are_404_pages(explorer):
    s1, _, page = get(f"{explorer}/machines/no-such-machine")
    s2, _, body = get(f"{explorer}/api/machines/{'x' * 40}")
    s3, _, _ = get(f"{explorer}/nowhere")

    assert (s1, s2, s3) == (404, 404, 404)
    assert "not registered" in page and "Traceback" not in page and json.loads(body)["error"]


def test_unreachable_rpc_gives_a_clear_page_not_a_trace(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    url, stop = start_explorer(make_settings(tmp_path, dead), "127.0.0.1", 0)
    try:
        status, ctype, page = get(f"{url}/")
        api_status, _, body = get(f"{url}/api/machines")
    finally:
        stop()

    assert (status, api_status) == (503, 503) and ctype.startswith("text/html")
    assert "Chain node unreachable" in page and dead in page and "Traceback" not in page
    assert json.loads(body)["title"] == "Chain node unreachable"


def test_chain_without_deployment_gives_a_clear_page(tmp_path, anvil):
    url, stop = start_explorer(make_settings(tmp_path, anvil.url), "127.0.0.1", 0)  # fresh home: nothing deployed here
    try:
        status, _, page = get(f"{url}/")
    finally:
        stop()

    assert status == 503 and "No consortium deployed" in page and "fedpm deploy" in page


def test_registered_section_appears_on_the_page_and_in_the_api(settings, history):
    class WarrantySection:
        key, title = "warranty", "Warranty"

        def load(self, source, machine):
            return {"available": True, "machine": machine.id}

        def render(self, data):
            return f"<p class='warranty'>warranty of {data['machine']}</p>"

    sections: SectionRegistry = default_sections()
    sections.register(WarrantySection())
    url, stop = start_explorer(settings, "127.0.0.1", 0, sections=sections)
    try:
        _, _, page = get(f"{url}/machines/factory-2-m1")
        _, _, body = get(f"{url}/api/machines/factory-2-m1")
    finally:
        stop()

    assert '<section id="warranty"><h2>Warranty</h2>' in page and "warranty of factory-2-m1" in page
    assert json.loads(body)["sections"]["warranty"]["machine"] == "factory-2-m1"
    assert page.index('<section id="leases">') < page.index('<section id="warranty">')  # after the built-in sections


def test_sensor_section_reports_the_blocks_the_local_gateway_never_received(explorer, consortium, settings, sensor_batches):
    from fedpm.sensors.store import GatewayStore

    store = GatewayStore(gateway_store_path(settings.home), create=True)
    device = consortium.devices["factory-1-m1"]
    store.persist_blocks(sign_blocks(device, "factory-1-m1", SensorBatchRegistry(consortium.ctx).signing_domain(), (6, 7, 10, 11, 15),
                                     t0=readings_t0(consortium)))
    store.close()

    section = json.loads(get(f"{explorer}/api/machines/factory-1-m1")[2])["sections"]["sensor_batches"]
    d = device.address
    assert section["reception"] == {"streams": [{"machine": "factory-1-m1", "device": d, "blocks_received": 11, "last_seq": 15}],
                                    "gaps": [{"machine": "factory-1-m1", "device": d, "first": 8, "last": 9}, {"machine": "factory-1-m1", "device": d, "first": 12, "last": 14}],
                                    "blocks_missing": 5}
    assert len(section["batches"]) == 2  # the anchored batches are still listed beside the gaps
    other = json.loads(get(f"{explorer}/api/machines/factory-3-m1")[2])["sections"]["sensor_batches"]
    assert other["reception"] == {"streams": [], "gaps": [], "blocks_missing": 0}
    page = get(f"{explorer}/machines/factory-1-m1")[2]
    section_html = page[page.index('<section id="sensor_batches">'):]
    assert "5 block(s) never received" in section_html
    assert f'<li class="gap" data-device="{d}" data-first="8" data-last="9">' in section_html and 'data-first="12" data-last="14"' in section_html
