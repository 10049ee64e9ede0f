"""The explorer in headless Chromium: rendered DOM (badges, tx hashes) and screenshots at phone and desktop widths.

Chromium is driven over the DevTools protocol (websocket), started and stopped by the test.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from chain.node import free_port
from chain.toolchain import REPO_ROOT
from fedpm.explorer.server import start_explorer
from fedpm.maintenance.demo import record_demo_history
from fedpm.maintenance.store import record_store_path
from tests.conftest import make_settings
from tests.explorer_helpers import record_sensor_batches
from tests.parts import require
from tests.sensor_helpers import readings_t0

pytestmark = pytest.mark.usefixtures("snapshot")
SHOTS = REPO_ROOT / "out" / "screenshots"  # kept after the run for a look; out/ is the tree's output folder


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, chromium: str, profile: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                      "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                      "--hide-scrollbars", f"--user-data-dir={profile}", f"--remote-debugging-port={self.port}",
                                      "--remote-debugging-address=127.0.0.1", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._ids = itertools.count(1)
        self.ws = ws_connect(self._page_ws(), max_size=None, open_timeout=20)
        self.call("Page.enable")

    def _page_ws(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                targets = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=2).json()
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except requests.exceptions.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            time.sleep(0.2)
        raise RuntimeError("chromium's DevTools endpoint did not come up")

    def call(self, method: str, params: dict[str, Any] | None = None, *, wait_event: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        result, seen = None, wait_event is None
        deadline = time.monotonic() + timeout
        while result is None or not seen:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result = msg["result"]
            elif msg.get("method") == wait_event:
                seen = True
        return result

    def viewport(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, wait_event="Page.loadEventFired")

    def js(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(require("chromium"), tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture
def explorer(tmp_path, anvil, consortium):
    """Demo maintenance history (one record of factory-1-m1 edited after anchoring) and anchored sensor batches."""
    settings = make_settings(tmp_path, anvil.url, **{"chain.deployment_file": consortium.ctx.deployment_path})
    summary = record_demo_history(consortium, settings.home, ["factory-1-m1", "factory-2-m1"])
    batches = record_sensor_batches(consortium, {"factory-1-m1": 2, "factory-2-m1": 1}, settings.home)
    edited = summary["machines"]["factory-1-m1"]["entries"][2]["hash"]  # the maker's part replacement
    with sqlite3.connect(record_store_path(settings.home)) as db:
        db.execute("UPDATE records SET canonical = replace(canonical, 'lot 22-17', 'lot 23-01') WHERE record_hash = ?", (edited,))
    url, stop = start_explorer(settings, "127.0.0.1", 0)
    yield url, summary, batches
    stop()


def check_png(png: bytes, width: int) -> Any:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    colors = img.getcolors(maxcolors=1 << 20) or []
    assert img.size[0] == width and img.size[1] > 200
    assert len(colors) > 50, "screenshot is (nearly) uniform"
    dominant = max(c for c, _ in colors) / (img.size[0] * img.size[1])
    assert dominant < 0.9, "screenshot is mostly one colour"
    return img


ENTRIES_JS = """JSON.stringify([...document.querySelectorAll('#maintenance li.entry')].map(e => ({
  status: e.querySelector('.badge').dataset.status, text: e.querySelector('.badge').textContent,
  tx: e.querySelector('[data-tx]') && e.querySelector('[data-tx]').dataset.tx,
  block: e.querySelector('[data-block]') && Number(e.querySelector('[data-block]').dataset.block),
  visible: e.getBoundingClientRect().width > 0})))"""

BATCHES_JS = """JSON.stringify([...document.querySelectorAll('#sensor_batches li.batch')].map(b => ({badge: b.querySelector('.badge').textContent,
  fields: Object.fromEntries([...b.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent])),
  visible: b.getBoundingClientRect().width > 0})))"""


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_machine_timeline_renders_badges_and_tx_hashes(browser, explorer, width, height, name):
    url, summary, batches = explorer
    browser.viewport(width, height)

    browser.open(f"{url}/machines/factory-1-m1")

    entries = json.loads(browser.js(ENTRIES_JS))
    expected = summary["machines"]["factory-1-m1"]["entries"]
    assert [e["status"] for e in entries] == ["verified", "verified", "altered", "verified"]
    assert [(e["tx"], e["block"]) for e in entries] == [(x["tx"], x["block"]) for x in expected]
    assert all(e["visible"] for e in entries)
    assert browser.js("document.documentElement.scrollWidth") <= width, "page overflows horizontally"
    assert browser.js("getComputedStyle(document.querySelector('.badge.altered')).backgroundColor") != browser.js(
        "getComputedStyle(document.querySelector('.badge.verified')).backgroundColor")
    shown = json.loads(browser.js(BATCHES_JS))
    fields = ("device", "readings", "root", "anchored root", "tx", "block")
    assert [tuple(b["fields"][f] for f in fields) for b in shown] == [
        (b["summary"].device, str(b["summary"].readings), "0x" + b["summary"].root.hex(), "0x" + b["anchor"].root.hex(), b["anchor"].tx_hash,
         str(b["anchor"].block_number)) for b in batches if b["summary"].machine == "factory-1-m1"]
    assert len(shown) == 2 and all(b["visible"] and b["badge"] == "verified" for b in shown)
    check_png(browser.screenshot(SHOTS / f"machine-{name}.png"), width)


def test_machines_list_links_every_machine(browser, explorer):
    url, _, _ = explorer
    browser.viewport(390, 844)

    browser.open(url + "/")

    machines = json.loads(browser.js("JSON.stringify([...document.querySelectorAll('li.machine')].map(li => [li.dataset.machine, li.querySelector('.badge').textContent]))"))
    assert dict(machines) == {"factory-1-m1": "discrepancies", "factory-2-m1": "history verified", "factory-3-m1": "no entries", "factory-4-m1": "no entries"}
    assert browser.js("document.documentElement.scrollWidth") <= 390
    check_png(browser.screenshot(SHOTS / "machines-phone.png"), 390)


def test_unreachable_rpc_page_in_the_browser(browser, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    url, stop = start_explorer(make_settings(tmp_path, dead), "127.0.0.1", 0)
    try:
        browser.viewport(390, 844)
        browser.open(url + "/")
        heading, alert = browser.js("document.querySelector('h1').textContent"), browser.js("document.querySelector('[role=alert]').innerText")
        png = browser.screenshot(SHOTS / "unreachable-phone.png")
    finally:
        stop()

    assert heading == "Chain node unreachable" and dead in alert and "fedpm chain up" in alert
    check_png(png, 390)


@pytest.fixture
def history_explorer(tmp_path, anvil, consortium):
    """Leases and a federated learning task with a dissenting aggregator, served by a fresh explorer."""
    from tests.explorer_helpers import record_fl_history, record_leases

    fl = record_fl_history(consortium, tmp_path / "fl")
    leases = record_leases(consortium)
    settings = make_settings(tmp_path, anvil.url, **{"chain.deployment_file": consortium.ctx.deployment_path})
    url, stop = start_explorer(settings, "127.0.0.1", 0)
    yield url, fl, leases
    stop()


NAV_JS = """JSON.stringify([...document.querySelectorAll('header nav a')].map(a => {const r = a.getBoundingClientRect();
  return {key: a.dataset.nav, current: a.getAttribute('aria-current'), right: r.right, height: r.height}}))"""

ROUNDS_JS = """JSON.stringify([...document.querySelectorAll('li.round')].map(r => ({round: Number(r.dataset.round), state: r.dataset.state,
  hash: r.querySelector('[data-model-hash]') && r.querySelector('[data-model-hash]').textContent,
  verdicts: [...r.querySelectorAll('li.vote')].map(v => [v.querySelector('.addr').title, v.querySelector('.badge').textContent]),
  failure: r.querySelector('.failure') && r.querySelector('.failure').textContent})))"""


def check_nav(browser: Browser, width: int, current: str) -> None:
    links = json.loads(browser.js(NAV_JS))
    assert [link["key"] for link in links] == ["machines", "fleet", "parts", "leases", "fl"]
    assert [link["key"] for link in links if link["current"] == "page"] == [current]
    assert all(link["right"] <= width and link["height"] >= 24 for link in links), "nav links must fit and stay tappable"


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_fl_page_renders_rounds_votes_and_chart(browser, history_explorer, width, height, name):
    url, fl, _ = history_explorer
    browser.viewport(width, height)

    browser.open(f"{url}/fl")

    rounds = json.loads(browser.js(ROUNDS_JS))
    final = fl["fl"].round(fl["task_id"], 1)
    assert [(r["round"], r["state"]) for r in rounds] == [(2, "failed"), (1, "finalized")]  # newest first
    assert rounds[1]["hash"] == "0x" + final.result_hash.hex() and rounds[0]["failure"]
    assert dict(rounds[1]["verdicts"]) == {fl["addr"]["agg-3"]: "dissent", fl["addr"]["agg-1"]: "agree", fl["addr"]["agg-2"]: "agree"}
    assert browser.js("getComputedStyle(document.querySelector('.badge.dissent')).backgroundColor") != browser.js(
        "getComputedStyle(document.querySelector('.badge.agree')).backgroundColor")
    assert browser.js("document.querySelector('figure.chart svg').getBoundingClientRect().width") > 0.5 * min(width, 1040) - 40
    assert browser.js("document.documentElement.scrollWidth") <= width, "page overflows horizontally"
    check_nav(browser, width, "fl")
    check_png(browser.screenshot(SHOTS / f"fl-{name}.png"), width)
    browser.js("document.querySelector('#round-1').scrollIntoView()")
    check_png(browser.screenshot(SHOTS / f"fl-round1-{name}.png"), width)


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_leases_page_renders_statuses_and_statements(browser, history_explorer, width, height, name):
    url, _, leases = history_explorer
    browser.viewport(width, height)

    browser.open(f"{url}/leases")

    cards = json.loads(browser.js("""JSON.stringify([...document.querySelectorAll('li.lease')].map(l => [Number(l.dataset.lease),
      l.querySelector('h3 .badge').textContent, l.querySelectorAll('.ledger [data-tx]').length]))"""))
    assert cards == [[leases["closed"], "Closed", 6], [leases["active"], "Active", 3], [leases["offered"], "Offered", 1]]
    assert browser.js("document.documentElement.scrollWidth") <= width, "page overflows horizontally"
    check_nav(browser, width, "leases")
    check_png(browser.screenshot(SHOTS / f"leases-{name}.png"), width)


@pytest.fixture
def part_explorer(tmp_path, anvil, consortium):
    """A part of factory-1-m1 recorded from two anchored batches of its device (no maintenance before it), served."""
    from fedpm.maintenance.client import MaintenanceLog
    from fedpm.parts.build import make_record
    from fedpm.parts.client import PassportChain
    from fedpm.parts.store import PartStore, part_store_path
    from fedpm.sensors.store import GatewayStore, gateway_store_path
    from fedpm.sensors.verify import Checker

    settings = make_settings(tmp_path, anvil.url, **{"chain.deployment_file": consortium.ctx.deployment_path})
    record_sensor_batches(consortium, {"factory-1-m1": 2}, settings.home)
    chain = PassportChain(consortium.ctx)
    gateway = GatewayStore(gateway_store_path(settings.home))
    t0 = readings_t0(consortium)
    record = make_record("P-7", "factory-1-m1", "milling", t0, t0 + 5_000, gateway, Checker(chain.sensors, chain.bindings, chain.domain),
                         MaintenanceLog(consortium.ctx), None)
    gateway.close()
    with PartStore(part_store_path(settings.home), create=True) as parts:
        parts.add(record)
    chain.parts.record_part(consortium.sender("factory-1"), record.part, record.machine, record.hash)
    url, stop = start_explorer(settings, "127.0.0.1", 0)
    yield url, settings, record
    stop()


ELEMENTS_JS = """JSON.stringify([...document.querySelectorAll('#verification li.element')].map(e => [e.dataset.element.split(' (')[0],
  e.querySelector('.badge').textContent, e.getBoundingClientRect().width > 0]))"""


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_part_page_shows_a_verification_badge_per_element_and_the_failure_after_tampering(browser, part_explorer, width, height, name):
    import sqlite3

    from fedpm.parts.store import part_store_path

    url, settings, record = part_explorer
    browser.viewport(width, height)

    browser.open(f"{url}/parts/P-7")

    assert json.loads(browser.js(ELEMENTS_JS)) == [[e, "verified", True] for e in ("record", "batch 0", "batch 1", "coverage", "maintenance")]
    assert browser.js("document.querySelector('h1 .badge').textContent") == "passport verified"
    assert record.hash in browser.js("document.body.innerText") and browser.js("document.documentElement.scrollWidth") <= width
    check_nav(browser, width, "parts")
    check_png(browser.screenshot(SHOTS / f"part-{name}.png"), width)
    browser.open(f"{url}/parts")
    assert json.loads(browser.js("JSON.stringify([...document.querySelectorAll('li.part')].map(p => p.dataset.part))")) == ["P-7"]

    with sqlite3.connect(part_store_path(settings.home)) as db:  # the operator's copy of the record is altered
        db.execute("UPDATE parts SET canonical = replace(canonical, 'milling', 'grinding')")
    browser.open(f"{url}/parts/P-7")

    shown = json.loads(browser.js(ELEMENTS_JS))
    assert shown[0] == ["record", "failed", True] and browser.js("document.querySelector('h1 .badge').textContent") == "fails at record"
    assert browser.js("getComputedStyle(document.querySelector('.badge.fail')).backgroundColor") != browser.js(
        "getComputedStyle(document.querySelector('.badge.verified')).backgroundColor")
    check_png(browser.screenshot(SHOTS / f"part-tampered-{name}.png"), width)


KEYS_JS = """JSON.stringify([...document.querySelectorAll('#device_keys li.device-key')].map(k => ({device: k.dataset.device, status: k.dataset.status,
  badge: k.querySelector('.badge').textContent, steps: [...k.querySelectorAll('li.step')].map(s => ({step: s.dataset.step, text: s.innerText.replace(/\s+/g, ' '),
  tx: s.querySelector('[data-tx]').dataset.tx})), visible: k.getBoundingClientRect().width > 0})))"""


@pytest.fixture
def device_explorer(tmp_path, anvil, consortium):
    """factory-3-m1's key history: rotated, leased, a revocation the lessee approved, a bind waiting for it."""
    from tests.explorer_helpers import record_device_history

    history = record_device_history(consortium)
    settings = make_settings(tmp_path, anvil.url, **{"chain.deployment_file": consortium.ctx.deployment_path})
    url, stop = start_explorer(settings, "127.0.0.1", 0)
    yield url, history
    stop()


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_machine_page_shows_each_device_key_with_who_bound_and_revoked_it(browser, device_explorer, width, height, name):
    url, h = device_explorer
    browser.viewport(width, height)

    browser.open(f"{url}/machines/{h['machine']}")
    browser.js("document.querySelector('#device_keys').scrollIntoView()")

    keys = json.loads(browser.js(KEYS_JS))
    first, second, third = h["keys"]
    assert [(k["device"], k["status"], k["badge"]) for k in keys] == [(first, "retired", "retired"), (second, "revoked", "revoked")]
    assert [s["step"] for s in keys[1]["steps"]] == ["rotated in by", "revoked by"]
    rotated_in, revoked = keys[1]["steps"]
    assert rotated_in["tx"] == h["rotated"].tx_hash and rotated_in["text"].startswith("rotated in by maker")
    assert revoked["tx"] == h["approved"].tx_hash and "approved by factory-3" in revoked["text"]
    assert keys[0]["steps"][0]["text"].startswith("bound by maker")
    waiting = browser.js("document.querySelector('#device_keys .waiting').innerText")
    assert f"bind {third}" in waiting and "waiting for the lessee" in waiting and "maker" in waiting
    assert "factory-3's approval" in browser.js("document.querySelector('#device_keys .lock').innerText")
    assert browser.js("getComputedStyle(document.querySelector('.badge.revoked')).backgroundColor") != browser.js(
        "getComputedStyle(document.querySelector('.badge.retired')).backgroundColor")
    assert all(k["visible"] for k in keys) and browser.js("document.documentElement.scrollWidth") <= width, "page overflows horizontally"
    check_png(browser.screenshot(SHOTS / f"device-keys-{name}.png"), width)
