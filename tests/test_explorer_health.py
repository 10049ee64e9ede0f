"""Fleet health in the explorer, in headless Chromium: a replayed engine's RUL falling (predicted, then actual once the
replacement closed its history), the alerts it raised with their provenance, the maintenance record answering the
stop alert verified on chain, and the fleet overview most urgent first. Screenshots in out/screenshots/."""

from __future__ import annotations

import json
import time

import pytest
import requests

from fedpm.explorer.server import start_explorer
from fedpm.maintenance.client import MaintenanceLog, add_record
from fedpm.maintenance.records import Kind, Record
from fedpm.maintenance.store import RecordStore, record_store_path
from tests.test_explorer_browser import SHOTS, browser, check_nav, check_png  # noqa: F401 - the browser fixture
from tests.test_serve import M, service_for, world  # noqa: F401 - the world fixture
from tests.serve_helpers import LIFE

pytestmark = pytest.mark.usefixtures("snapshot")

HEALTH_JS = """JSON.stringify({predicted: document.querySelector('#health polyline[data-series=predicted]').getAttribute('points').split(' ').length,
  actual: (document.querySelector('#health polyline[data-series=actual]') || {getAttribute: () => ''}).getAttribute('points').split(' ').filter(Boolean).length,
  alerts: [...document.querySelectorAll('#health li.alert')].map(a => [a.dataset.level, a.querySelector('h3').innerText,
           [...a.querySelectorAll('.ledger .badge')].map(b => b.textContent)]),
  latest: document.querySelector('#latest [data-rul]') && Number(document.querySelector('#latest [data-rul]').dataset.rul)})"""


@pytest.fixture
def degraded(world, consortium, ctx):
    env, machine, settings = world
    env.finalize(1.0)
    service = service_for(settings, ctx)
    service.refresh()
    for _ in range(5):
        machine.stream(10)
        service.health(M)
    machine.stream(7)  # 57 cycles of 60: below the stop threshold
    stop = service.health(M)["alert"]
    record = Record(machine=M, time=int(time.time()), kind=Kind.PART_REPLACEMENT, component="HPC module", description="replaced on the stop alert",
                    technician_org="factory-1", technician="tech-7", answers=stop["id"])
    with RecordStore(record_store_path(settings.home), create=True) as store:
        result, _ = add_record(store, record, lambda: MaintenanceLog(consortium.ctx), lambda: consortium.sender("factory-1"))
    assert result.status == "anchored"
    url, close = start_explorer(settings, "127.0.0.1", 0)
    yield url, stop
    close()


@pytest.mark.parametrize("width,height,name", [(390, 844, "phone"), (1280, 900, "desktop")])
def test_machine_health_shows_the_falling_rul_alerts_and_the_answering_maintenance(browser, degraded, width, height, name):
    url, stop = degraded
    browser.viewport(width, height)

    browser.open(f"{url}/machines/{M}#health")

    shown = json.loads(browser.js(HEALTH_JS))
    assert shown["predicted"] >= 5 and shown["actual"] == shown["predicted"]
    assert shown["latest"] == pytest.approx(125 * (1 - 57 / LIFE), abs=0.05)
    levels = [a[0] for a in shown["alerts"]]
    assert levels == ["plan", "stop"]
    answered = [a for a in shown["alerts"] if a[0] == "stop"][0]
    assert "answered" in answered[1] and answered[2] == ["verified on chain"]
    assert browser.js("document.documentElement.scrollWidth") <= width, "page overflows horizontally"
    browser.js("document.querySelector('#health').scrollIntoView()")
    check_png(browser.screenshot(SHOTS / f"health-{name}.png"), width)


def test_fleet_overview_puts_the_most_urgent_machine_first(browser, degraded):
    url, stop = degraded
    api = requests.get(f"{url}/api/fleet", timeout=30).json()
    browser.viewport(1280, 900)

    browser.open(f"{url}/fleet")

    cards = json.loads(browser.js("JSON.stringify([...document.querySelectorAll('#fleet li.machine')].map(li => [li.dataset.machine, li.querySelector('.badge').textContent]))"))
    assert cards[0] == [M, "stop answered"] and api["machines"][0]["alert"]["id"] == stop["id"]
    assert [e["event"] for e in api["served"]] == ["loaded"]
    check_nav(browser, 1280, "fleet")
    check_png(browser.screenshot(SHOTS / "fleet-desktop.png"), 1280)
