"""Per machine: the predictions, the alerts they raised and the maintenance that answered them, with the timing from
alert to action and whether the action's record verifies on chain (pure: no I/O).

Inputs are the service's journal (predictions, alerts) and the maintenance audit of the machine
(`fedpm.maintenance.audit.audit_history`: local records vs the hashes on chain). A record answers an alert when its
`answers` field holds the alert's id; only a record whose audit status is `verified` proves the action on chain.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from fedpm.maintenance.audit import AuditReport, Status
from fedpm.prognostics.alerts import Alert
from fedpm.prognostics.journal import PredictionRow


@dataclass(frozen=True)
class Answer:
    record_hash: str
    kind: str
    component: str
    time: int  # the record's time (unix s)
    status: str  # the audit's: verified, altered, missing on chain, …
    tx_hash: str | None
    block: int | None

    def to_json(self) -> dict[str, Any]:
        return {"record_hash": self.record_hash, "kind": self.kind, "component": self.component, "time": self.time, "status": self.status,
                "tx_hash": self.tx_hash, "block": self.block, "verified": self.status == Status.VERIFIED.value}


def answers_of(report: AuditReport) -> dict[str, list[Answer]]:
    """Alert id -> the records answering it, in record order."""
    out: dict[str, list[Answer]] = {}
    for item in report.items:
        rec = item.local.record if item.local else None
        if rec is None or rec.answers is None:
            continue
        c = item.chain
        out.setdefault(rec.answers, []).append(Answer(item.record_hash or rec.hash, rec.kind.label, rec.component, rec.time, item.status.value,
                                                      c.tx_hash if c else None, c.block if c else None))
    return out


def machine_timeline(machine: str, predictions: Sequence[PredictionRow], alerts: Sequence[Alert], report: AuditReport | None) -> dict[str, Any]:
    """JSON-able: predictions (the RUL trend), alerts each with its answers and response time, and the verdict."""
    answers = answers_of(report) if report is not None else {}
    rows = []
    for a in alerts:
        got = answers.get(a.id, [])
        first = min((x.time for x in got), default=None)
        rows.append({"id": a.id, **a.to_json(), "answers": [x.to_json() for x in got],
                     "answered": any(x.status == Status.VERIFIED.value for x in got),
                     "response_s": None if first is None else first - a.raised_at})
    events = [{"at": p.at, "what": "prediction", "rul": p.rul, "reason": p.reason, "round": p.round} for p in predictions]
    events += [{"at": a["raised_at"], "what": "alert", "level": a["level"], "rul": a["rul"], "id": a["id"]} for a in rows]
    events += [{"at": x["time"], "what": "maintenance", "kind": x["kind"], "answers": a["id"], "status": x["status"]} for a in rows for x in a["answers"]]
    events.sort(key=lambda e: (e["at"], ("prediction", "alert", "maintenance").index(e["what"])))
    return {"machine": machine, "predictions": [p.to_json() for p in predictions], "alerts": rows, "events": events,
            "open_alerts": [a["id"] for a in rows if not a["answered"]],
            "maintenance_ok": None if report is None else report.ok}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_timeline(t: dict[str, Any], max_predictions: int = 8) -> str:
    """`fedpm health timeline`: predictions (the newest few), alerts, the maintenance answering them."""
    lines = [f"{t['machine']}: {len(t['predictions'])} prediction(s), {len(t['alerts'])} alert(s), {len(t['open_alerts'])} open"]
    shown = [e for e in t["events"] if e["what"] != "prediction"]
    preds = [e for e in t["events"] if e["what"] == "prediction"][-max_predictions:]
    for e in sorted(shown + preds, key=lambda e: e["at"]):
        if e["what"] == "prediction":
            what = f"RUL {e['rul']:.1f} cycles (round {e['round']})" if e["rul"] is not None else f"no prediction: {e['reason']}"
            lines.append(f"  {_when(e['at'])}  prediction   {what}")
        elif e["what"] == "alert":
            lines.append(f"  {_when(e['at'])}  ALERT {e['level']:<5}  RUL {e['rul']:.1f}  id {e['id']}")
        else:
            lines.append(f"  {_when(e['at'])}  maintenance  {e['kind']} answering {e['answers'][:12]}…  ({e['status']})")
    for a in t["alerts"]:
        if a["answered"]:
            lines.append(f"  alert {a['id'][:12]}… answered after {a['response_s']} s, record verified on chain")
    return "\n".join(lines)


def with_actual(predictions: Sequence[dict[str, Any]], cycle_ts: Sequence[int], failures_ms: Sequence[int]) -> list[dict[str, Any]]:
    """Each prediction (a journal row as JSON) with `actual`: once a failure closed the history, the verified cycles
    between the prediction's window end and that failure (the true remaining life); None while unknown."""
    ts = sorted(cycle_ts)
    out = []
    for p in predictions:
        actual = None
        end = p.get("to_ms")
        after = [f for f in failures_ms if end is not None and f >= end]
        if end is not None and after:
            actual = bisect.bisect_right(ts, min(after)) - bisect.bisect_right(ts, end)
        out.append({**p, "actual": actual})
    return out
