"""Fleet health in the explorer: the machine section "Predicted health" (the RUL trend, predicted vs actual once a
failure closed the history; alerts and the maintenance that answered them, with the audit's badge; the model version
behind each prediction) and the fleet overview `/fleet`, most urgent first, with the model version served and the
local log of version choices.

The data comes from this home: the prediction service's journal (`<home>/service/journal.sqlite`), the maintenance
records audited against the chain, the gateway store's verified cycles (for the actual remaining life) and the model
choice log. Rendering is pure (data in, escaped HTML out) and draws the trend as inline SVG, like the rest.
"""

from __future__ import annotations

from typing import Any, Sequence

from fedpm.explorer.pages import badge, esc, machine_url, page, when
from fedpm.maintenance.audit import audit_history
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.models.choice import ChoiceLog, choice_log_path
from fedpm.prognostics.alerts import severity
from fedpm.prognostics.journal import Journal, journal_path
from fedpm.prognostics.labels import closing_events
from fedpm.prognostics.timeline import machine_timeline, with_actual
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.feed import VerifiedFeed
from fedpm.sensors.store import gateway_store_path


def _unavailable(message: str) -> dict[str, Any]:
    return {"available": False, "message": message}


def load_machine_health(source: Any, machine: str) -> dict[str, Any]:
    """The health section's data for `machine` (JSON-able)."""
    home = source.settings.home
    if not journal_path(home).exists():
        return _unavailable("no prediction service journal in this home (fedpm serve writes it)")
    journal = Journal(journal_path(home))
    try:
        predictions, alerts = journal.predictions(machine), journal.alerts(machine)
    finally:
        journal.close()
    report = None
    if source.deployed(MaintenanceLog.CONTRACT):
        local = []
        if record_store_path(home).exists():
            with RecordStore(record_store_path(home)) as store:
                local = store.local_entries(machine)
        report = audit_history(machine, local, MaintenanceLog(source.ctx).entries(machine))
    t = machine_timeline(machine, predictions, alerts, report)
    failures = [r.time * 1000 for r in closing_events(report)] if report else []
    cycles: list[int] = []
    store = gateway_store_path(home)
    if failures and store.exists() and source.deployed(SensorBatchRegistry.CONTRACT):
        feed = VerifiedFeed(store, SensorBatchRegistry(source.ctx))
        try:
            cycles = sorted({r.ts_ms for r in feed.read(machine).readings})
        finally:
            feed.close()
    t["predictions"] = with_actual(t["predictions"], cycles, failures)
    return {"available": True, **t}


class HealthSection:
    key = "health"
    title = "Predicted health"

    def load(self, source: Any, machine: Any) -> dict[str, Any]:
        return load_machine_health(source, machine.id)

    def render(self, data: dict[str, Any]) -> str:
        return render_health(data)


def load_fleet(source: Any) -> dict[str, Any]:
    """Every machine the journal knows, its latest prediction and open alert, most urgent first; the model choices."""
    home = source.settings.home
    if not journal_path(home).exists():
        return _unavailable("no prediction service journal in this home (fedpm serve writes it)")
    journal = Journal(journal_path(home))
    try:
        rows = []
        for m in journal.machines():
            preds = journal.predictions(m, limit=1)
            alerts = journal.alerts(m)
            last = preds[-1] if preds else None
            rows.append({"machine": m, "rul": last.rul if last else None, "reason": last.reason if last else None,
                         "round": last.round if last else None, "model_hash": last.model_hash if last else None, "at": last.at if last else None,
                         "alert": (lambda a: {"id": a.id, "level": a.level, "action": a.action} if a else None)(max(alerts, key=lambda a: (severity(a.level), a.raised_at), default=None))})
        served = journal.served_log(20)
    finally:
        journal.close()
    if source.deployed(MaintenanceLog.CONTRACT) and record_store_path(home).exists():
        with RecordStore(record_store_path(home)) as store:
            answered = {r.record().answers for r in store.records(status="anchored")} - {None}
        for r in rows:
            if r["alert"] and r["alert"]["id"] in answered:
                r["alert"]["answered"] = True
    rows.sort(key=fleet_urgency)
    return {"available": True, "machines": rows, "served": served, "choices": [c.to_json() for c in ChoiceLog(choice_log_path(home)).history()]}


def fleet_urgency(r: dict[str, Any]) -> tuple:
    """Open alert level first (stop, plan), then lowest predicted RUL, then machines without a prediction."""
    open_level = r["alert"]["level"] if r.get("alert") and not r["alert"].get("answered") else None
    return (-severity(open_level), r["rul"] is None, r["rul"] if r["rul"] is not None else 0.0, r["machine"])


# ---------------------------------------------------------------- rendering


def rul_chart(points: Sequence[dict[str, Any]], thresholds: Sequence[float] = (10, 30)) -> str:
    """Inline SVG: predicted RUL over the window end (cycles), actual RUL where known, alert thresholds dashed."""
    pred = [(p["to_ms"], float(p["rul"])) for p in points if p.get("rul") is not None and p.get("to_ms") is not None]
    if not pred:
        return '<div class="note">No prediction yet.</div>'
    actual = [(p["to_ms"], float(p["actual"])) for p in points if p.get("actual") is not None and p.get("to_ms") is not None]
    w, h, left, right, top, bottom = 640, 220, 48, 16, 14, 30
    t0, t1 = min(t for t, _ in pred), max(t for t, _ in pred)
    hi = max([v for _, v in pred + actual] + [max(thresholds, default=0) + 10])

    def x(t: int) -> float:
        return left + (w - left - right) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.5)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - v / hi)

    def line(pts: list[tuple[int, float]], color: str, kind: str, dash: str = "") -> str:
        poly = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        return f'<polyline data-series="{kind}" points="{poly}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'

    grid = "".join(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}" stroke="#b42318" stroke-dasharray="4 4" opacity=".6"/>'
                   f'<text x="{w - right}" y="{y(v) - 3:.1f}" text-anchor="end" fill="#b42318">{v:g}</text>' for v in thresholds)
    axes = (f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#dde1e7"/>'
            f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#dde1e7"/>'
            f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" text-anchor="end">{hi:.0f}</text><text x="{left - 6}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>'
            f'<text x="{(w + left) / 2:.0f}" y="{h - 8}" text-anchor="middle">window end (data time) → </text>')
    series = line(pred, "#1f5fbf", "predicted") + (line(actual, "#1a7f37", "actual", ' stroke-dasharray="6 3"') if actual else "")
    legend = "predicted RUL (blue)" + (", actual RUL once the failure was recorded (green, dashed)" if actual else "") + "; alert thresholds dashed red"
    return (f'<figure class="chart" data-points="{len(pred)}" data-actual="{len(actual)}"><svg viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="remaining useful life over time" font-size="12" fill="#5b6675">{axes}{grid}{series}</svg>'
            f'<figcaption>Remaining useful life in cycles: {esc(legend)}</figcaption></figure>')


def _answer(a: dict[str, Any]) -> str:
    status = a["status"]
    return (f'<li><div class="top"><span class="kind">{esc(a["kind"])}</span> {esc(a["component"])} '
            f'{badge(status, "verified on chain" if a["verified"] else status)}</div>'
            f'<div class="ref">record <span class="hash">{esc(a["record_hash"])}</span>'
            f'{" · tx <span class=tx>" + esc(a["tx_hash"]) + "</span> · block " + esc(a["block"]) if a.get("tx_hash") else ""}</div></li>')


def render_health(section: dict[str, Any]) -> str:
    preds = section["predictions"]
    latest = next((p for p in reversed(preds)), None)
    head = ""
    if latest is not None:
        what = f'RUL <strong data-rul="{esc(latest["rul"])}">{latest["rul"]:.1f}</strong> cycles' if latest["rul"] is not None \
            else f'no prediction: {esc(latest["reason"])} — {esc(latest["detail"])}'
        head = (f'<p class="summary" id="latest">{what} · model task {esc(latest["task"])} round {esc(latest["round"])} '
                f'<span class="hash">{esc(latest["model_hash"])}</span> · {when(int(latest["at"]))}</p>')
    alerts = []
    for a in section["alerts"]:
        answered = badge("verified", "answered") if a["answered"] else badge("pending", "open")
        answers = "".join(_answer(x) for x in a["answers"]) or '<li class="detail">no maintenance record answers it yet</li>'
        resp = f' · answered after {esc(a["response_s"])} s' if a["response_s"] is not None else ""
        alerts.append(f'<li class="card alert" data-alert="{esc(a["id"])}" data-level="{esc(a["level"])}"><h3>{badge("failed" if a["level"] == "stop" else "pending", a["level"])}'
                      f' RUL {a["rul"]:.1f} &lt; {a["threshold"]:g} {answered}</h3><p class="desc">{esc(a["action"])}</p>'
                      f'<dl><dt>alert id</dt><dd class="hash">{esc(a["id"])}</dd><dt>raised</dt><dd>{when(a["raised_at"])}{resp}</dd>'
                      f'<dt>model</dt><dd>task {esc(a["task"])} round {esc(a["round"])} <span class="hash">{esc(a["model_hash"])}</span></dd>'
                      f'<dt>input</dt><dd>{len(a["batches"])} anchored batch(es)</dd></dl>'
                      f'<h4>Maintenance answering it</h4><ul class="ledger">{answers}</ul></li>')
    rounds = sorted({(p["round"], p["model_hash"]) for p in preds if p.get("model_hash")}, key=lambda r: r[0] or 0)
    models = "".join(f'<li>round {esc(r)} <span class="hash">{esc(h)}</span></li>' for r, h in rounds)
    return (f'{head}{rul_chart(preds)}<h4>Alerts</h4>'
            f'{"<ul class=cards>" + "".join(alerts) + "</ul>" if alerts else "<div class=note>No alert raised.</div>"}'
            f'<h4>Model versions behind the predictions</h4><ul class="ledger">{models or "<li>none</li>"}</ul>')


def fleet_page(data: dict[str, Any]) -> str:
    if not data.get("available"):
        return page("Fleet health", f'<h1>Fleet health</h1><div class="note">{esc(data.get("message"))}</div>', data.get("chain"), "fleet")
    cards = []
    for r in data["machines"]:
        alert = r["alert"]
        flag = badge("neutral", "no alert") if not alert else (badge("verified", f'{alert["level"]} answered') if alert.get("answered")
                                                               else badge("failed" if alert["level"] == "stop" else "pending", alert["level"]))
        rul = f'{r["rul"]:.1f} cycles' if r["rul"] is not None else f'no prediction ({esc(r["reason"])})'
        cards.append(f'<li class="card machine" data-machine="{esc(r["machine"])}"><h3><a href="{esc(machine_url(r["machine"]))}#health">'
                     f'{esc(r["machine"])}</a>{flag}</h3><dl><dt>predicted RUL</dt><dd>{rul}</dd>'
                     f'<dt>action</dt><dd>{esc(alert["action"]) if alert and not alert.get("answered") else "-"}</dd>'
                     f'<dt>model</dt><dd>round {esc(r["round"])} <span class="hash">{esc((r["model_hash"] or "")[:18])}</span></dd></dl></li>')
    served = "".join(f'<li><div class="top"><span class="kind">{esc(e["event"])}</span> {when(int(e["at"]))}</div>'
                     f'<div class="detail">{"round " + esc(e["round"]) + " " if e["round"] else ""}<span class="hash">{esc(e["model_hash"] or "")}</span> {esc(e["detail"] or "")}</div></li>'
                     for e in reversed(data["served"]))
    choices = "".join(f'<li>{when(c["at"])} · {esc(c["by"])} · task {esc(c["task"])}: '
                      f'{"follow the newest" if c["pin"] is None else "pin round " + esc(c["pin"])} {esc(c["reason"])}</li>' for c in data["choices"])
    body = (f'<h1>Fleet health</h1><p class="summary">{len(data["machines"])} machine(s), most urgent first</p>'
            f'<ul class="cards machines" id="fleet">{"".join(cards)}</ul><h2>Model served</h2><ul class="ledger" id="served">{served}</ul>'
            f'<h2>Version choices (local log)</h2><ul class="ledger" id="choices">{choices or "<li>none: the newest finalized version is served</li>"}</ul>')
    return page("Fleet health", body, data.get("chain"), "fleet")
