"""HTML of the parts pages: every recorded part, and one part's passport with a verification badge per element
(pure: the JSON `/api/parts` and `/api/parts/<id>` serve in, escaped HTML out; shared bits from `pages`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fedpm.explorer.pages import badge, esc, machine_url, ms_when, page, short, tx_block, unavailable_note

STATUS_BADGE = {"verified": "verified", "failed": "fail", "unchecked": "unchecked"}


def part_url(part: str) -> str:
    return "/parts/" + quote(part, safe="")


def parts_page(data: dict[str, Any]) -> str:
    if not data.get("available", True):
        return page("Parts", "<h1>Parts</h1>" + unavailable_note(data, "no PartRegistry deployed"), data.get("chain"), "parts")
    parts = data["parts"]
    if not parts:
        body = '<div class="note" id="empty">No parts recorded yet. An operator records one with <code>fedpm part record</code>.</div>'
    else:
        cards = "".join(f'<li class="card part" data-part="{esc(p["part"])}"><h3><a href="{part_url(p["part"])}">{esc(p["part"])}</a>'
                        f'<span class="sub">{esc(p["machine"])}</span></h3><dl><dt>record</dt><dd class="hash">{esc(p["record_hash"])}</dd>'
                        f'<dt>operator</dt><dd>{esc(p["org"])}</dd>{tx_block(p["tx"], p["block"])}</dl></li>' for p in parts)
        body = f'<ol class="cards machines">{cards}</ol>'
    return page("Parts", f"<h1>Parts</h1><p class=\"summary\">each part's record hash, anchored by its machine's operator</p>{body}", data.get("chain"), "parts")


def _element(e: dict[str, str]) -> str:
    status = e["status"]
    label = {"verified": "verified", "failed": "failed", "unchecked": "unchecked"}.get(status, status)
    return (f'<li class="card element" data-element="{esc(e["element"])}" data-status="{esc(status)}">'
            f'<h3>{badge(STATUS_BADGE.get(status, status), label)} {esc(e["element"])}</h3><p class="desc">{esc(e["detail"])}</p></li>')


def _record(r: dict[str, Any], record_hash: str, recorded: dict[str, Any] | None) -> str:
    rows = (f'<dt>record hash</dt><dd class="hash" data-record-hash="{esc(record_hash)}">{esc(record_hash)}</dd><dt>machine</dt><dd><a href="{machine_url(r["machine"])}">{esc(r["machine"])}</a></dd><dt>step</dt><dd>{esc(r["step"])}</dd>'
            f'<dt>from</dt><dd>{esc(ms_when(r["start_ms"]))}</dd><dt>to</dt><dd>{esc(ms_when(r["end_ms"]))}</dd>'
            f'<dt>batches</dt><dd>{len(r["batches"])} ({sum(b["readings"] for b in r["batches"])} signed readings)</dd>')
    m = r.get("maintenance")
    rows += (f'<dt>maintenance</dt><dd><span class="hash">{esc(m["record_hash"])}</span> (entry {esc(m["index"])})</dd>' if m
             else '<dt>maintenance</dt><dd>none before the part</dd>')
    mo = r.get("model")
    if mo:
        rul = f", predicted RUL {mo['predicted_rul']:g}" if mo.get("predicted_rul") is not None else ""
        rows += f'<dt>model</dt><dd>task {esc(mo["task"])} round {esc(mo["round"])}{esc(rul)} <span class="hash">{esc(mo["model_hash"])}</span></dd>'
    if recorded:
        rows += f'<dt>recorded by</dt><dd>{esc(recorded["org"])} <span class="addr">{esc(short(recorded["recorder"]))}</span></dd>' + tx_block(recorded["tx"], recorded["block"])
    return f'<dl class="card">{rows}</dl>'


def _batches(r: dict[str, Any]) -> str:
    rows = "".join(f'<li class="card batch-ref" data-first="{esc(b["first_seq"])}"><h3>device <span class="addr">{esc(short(b["device"]))}</span> '
                   f'blocks {esc(b["first_seq"])}..{esc(b["last_seq"])}</h3><dl><dt>readings</dt><dd>{esc(b["readings"])}</dd>'
                   f'<dt>root</dt><dd class="hash">{esc(b["root"])}</dd><dt>anchored root</dt><dd class="hash">{esc(b["anchor_root"])}</dd></dl></li>'
                   for b in r["batches"])
    return f'<ol class="cards">{rows}</ol>'


def part_page(data: dict[str, Any]) -> str:
    part = data["part"]
    check, record = data.get("check"), data.get("record")
    if record is None:
        body = (f'<h1>Part {esc(part)}</h1><div class="note" id="no-record">{esc(data.get("message"))}</div>'
                + "".join(f'<dl class="card"><dt>record</dt><dd class="hash">{esc(x["record_hash"])}</dd>{tx_block(x["tx"], x["block"])}</dl>' for x in data.get("recorded", [])))
        return page(f"Part {part}", body, data.get("chain"), "parts")
    verdict = (badge("verified", "passport verified") if check["ok"]
               else badge("fail", f"fails at {next(e['element'] for e in check['elements'] if e['status'] != 'verified')}"))
    elements = "".join(_element(e) for e in check["elements"])
    body = (f'<h1>Part {esc(part)} {verdict}</h1><p class="summary">checked against the chain now: the record hash, every signed block of its '
            f'batches, their anchors, the device bindings, the maintenance state</p>{_record(record, data.get("record_hash"), data.get("recorded"))}'
            f'<h2>Verification</h2><ol class="cards elements" id="verification">{elements}</ol><h2>Sensor batches</h2>{_batches(record)}')
    return page(f"Part {part}", body, data.get("chain"), "parts")
