"""HTML of the explorer, rendered from the JSON the API serves (pure: data in, escaped HTML out).

Everything that comes from the chain or a local record goes through `esc` before it reaches the page.
No scripts, no external resources: the pages work offline, on a phone and on a desktop.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote

CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2430;--muted:#5b6675;--line:#dde1e7;--accent:#1f5fbf;
--ok:#1a7f37;--ok-bg:#dcf5e3;--bad:#b42318;--bad-bg:#fde4e1;--warn:#9a5b00;--warn-bg:#fff1d6;--grey:#4b5563;--grey-bg:#e8ebef}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#14284b;color:#fff;padding:12px 16px}
header a{color:#fff;text-decoration:none;font-weight:600;font-size:18px}
header .chain{color:#c8d3e6;font-size:13px;margin-top:2px;overflow-wrap:anywhere}
main{max-width:1040px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:4px 0 12px}
h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
a{color:var(--accent)}
.cards{display:grid;grid-template-columns:1fr;gap:12px;list-style:none;padding:0;margin:0}
@media (min-width:720px){.cards.machines{grid-template-columns:repeat(2,1fr)}}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
.card h3{margin:0 0 6px;font-size:16px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:14px}
dt{color:var(--muted)}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
.hash,.tx{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere;word-break:break-all}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:12.5px;font-weight:600;white-space:nowrap}
.badge.verified{background:var(--ok-bg);color:var(--ok)}
.badge.altered,.badge.out-of-order{background:var(--bad-bg);color:var(--bad)}
.badge.missing-locally,.badge.missing-on-chain{background:var(--warn-bg);color:var(--warn)}
.badge.neutral{background:var(--grey-bg);color:var(--grey)}
.timeline{border-left:3px solid var(--line);margin-left:6px;padding-left:14px}
.timeline .card{position:relative}
.timeline .card::before{content:"";position:absolute;left:-22px;top:16px;width:11px;height:11px;border-radius:50%;background:var(--accent);border:2px solid var(--bg)}
.desc{margin:4px 0 0}
.note{background:var(--card);border:1px dashed var(--line);border-radius:8px;padding:12px 14px;color:var(--muted)}
.error{background:var(--bad-bg);border:1px solid #f4b4ad;border-radius:8px;padding:16px;color:var(--bad)}
.error p{color:var(--ink)}
.summary{color:var(--muted);margin:0 0 12px}
footer{color:var(--muted);font-size:12px;text-align:center;padding:24px 16px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(ts: int | None) -> str:
    if ts is None:
        return "-"
    try:
        return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def machine_url(machine_id: str) -> str:
    return "/machines/" + quote(machine_id, safe="")


def badge(status: str | None, label: str | None = None) -> str:
    if not status:
        return f'<span class="badge neutral">{esc(label or "no entries")}</span>'
    cls = status.replace(" ", "-")
    return f'<span class="badge {esc(cls)}" data-status="{esc(status)}">{esc(label or status)}</span>'


def tx_block(tx: str | None, block: int | None) -> str:
    """Every on-chain item shows its transaction hash and block."""
    if not tx:
        return ""
    return (f'<dt>tx</dt><dd class="tx" data-tx="{esc(tx)}">{esc(tx)}</dd>'
            f'<dt>block</dt><dd data-block="{esc(block)}">{esc(block)}</dd>')


def page(title: str, body: str, chain: dict[str, Any] | None = None) -> str:
    chain_line = ""
    if chain:
        chain_line = f'<div class="chain">chain {esc(chain.get("chain_id"))} · block {esc(chain.get("block"))} · {esc(chain.get("url"))}</div>'
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)} · fedpm explorer</title><style>{CSS}</style></head><body>"
            f"<header><a href=\"/\">fedpm explorer</a>{chain_line}</header>"
            f"<main>{body}</main><footer>fedpm · records stay with their owners; only their hashes are on chain</footer></body></html>")


def error_page(title: str, message: str, hint: str | None = None) -> str:
    hint_html = f"<p>{esc(hint)}</p>" if hint else ""
    return page(title, f'<h1>{esc(title)}</h1><div class="error" role="alert"><strong>{esc(message)}</strong>{hint_html}</div>'
                       '<p><a href="/">Back to machines</a></p>')


def machines_page(data: dict[str, Any]) -> str:
    machines = data["machines"]
    if not machines:
        body = '<h1>Machines</h1><div class="note" id="empty">No machines registered yet. Register one with <code>fedpm machine register</code>.</div>'
        return page("Machines", body, data.get("chain"))
    cards = []
    for m in machines:
        status = None if m.get("maintenance_ok") is None else ("verified" if m["maintenance_ok"] else "altered")
        label = None if status is None else ("history verified" if m["maintenance_ok"] else "discrepancies")
        cards.append(f'<li class="card machine" data-machine="{esc(m["id"])}"><h3><a href="{esc(machine_url(m["id"]))}">{esc(m["id"])}</a>'
                     f'{badge(status, label)}</h3><dl><dt>operator</dt><dd>{esc(m["operator"])}</dd>'
                     f'<dt>manufacturer</dt><dd>{esc(m["manufacturer"])}</dd>'
                     f'<dt>maintenance</dt><dd>{esc(m.get("maintenance_entries", "-"))} entries on chain</dd></dl></li>')
    body = f'<h1>Machines</h1><p class="summary">{len(machines)} registered</p><ul class="cards machines">{"".join(cards)}</ul>'
    return page("Machines", body, data.get("chain"))


def machine_page(data: dict[str, Any], renderers: Iterable[tuple[str, str, Any]]) -> str:
    """`renderers`: (key, title, render(section_data) -> html) of each registered section, in order."""
    m = data["machine"]
    parts = [f'<h1>{esc(m["id"])}</h1><dl class="card"><dt>operator</dt><dd>{esc(m["operator"])}</dd>'
             f'<dt>manufacturer</dt><dd>{esc(m["manufacturer"])}</dd><dt>metadata</dt><dd class="hash">{esc(m["metadata_hash"])}</dd></dl>']
    for key, title, render in renderers:
        section = data["sections"].get(key, {})
        inner = render(section) if section.get("available") else f'<div class="note">{esc(section.get("message", "not available"))}</div>'
        parts.append(f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{inner}</section>')
    return page(m["id"], "".join(parts), data.get("chain"))


def render_maintenance(section: dict[str, Any]) -> str:
    items = section["items"]
    if not items:
        return '<div class="note">No maintenance entries on chain yet.</div>'
    counts = ", ".join(f"{n} {s}" for s, n in section["counts"].items() if n)
    cards = []
    for item in items:
        c, rec = item.get("chain"), (item.get("local") or {}).get("record")
        title = esc((rec or {}).get("kind") or (c or {}).get("kind") or "?").replace("_", " ")
        rows = []
        if c:
            rows.append(f'<dt>position</dt><dd>{esc(c["index"])}</dd>')
        if rec:
            rows.append(f'<dt>when</dt><dd>{esc(when(rec.get("time")))}</dd><dt>component</dt><dd>{esc(rec.get("component"))}</dd>'
                        f'<dt>technician</dt><dd>{esc(rec.get("technician"))} ({esc(rec.get("technician_org"))})</dd>')
        elif c:
            rows.append(f'<dt>when</dt><dd>{esc(when(c.get("time")))}</dd>')
        if c:
            rows.append(f'<dt>author</dt><dd>{esc(c["author_org"])} <span class="hash">{esc(c["author"])}</span></dd>')
        if (c or {}).get("corrects") or (rec or {}).get("corrects"):
            rows.append(f'<dt>corrects</dt><dd class="hash">{esc((c or {}).get("corrects") or rec.get("corrects"))}</dd>')
        rows.append(f'<dt>record</dt><dd class="hash">{esc(item.get("record_hash"))}</dd>')
        if c:
            rows.append(tx_block(c.get("tx_hash"), c.get("block")))
        if item.get("detail"):
            rows.append(f'<dt>note</dt><dd>{esc(item["detail"])}</dd>')
        desc = f'<p class="desc">{esc(rec.get("description"))}</p>' if rec else ""
        cards.append(f'<li class="card entry" data-hash="{esc(item.get("record_hash"))}"><h3>{badge(item["status"])} {title}</h3>{desc}<dl>{"".join(rows)}</dl></li>')
    return f'<p class="summary">{esc(counts)}</p><ol class="cards timeline">{"".join(cards)}</ol>'


def render_sensor_batches(section: dict[str, Any]) -> str:
    batches = section["batches"]
    if not batches:
        return '<div class="note">No sensor batches anchored for this machine yet.</div>'
    cards = []
    for b in batches:
        fields = "".join(f'<dt>{esc(k)}</dt><dd class="hash">{esc(v)}</dd>' for k, v in b["fields"].items())
        cards.append(f'<li class="card batch"><h3>{badge(None, "anchored")} batch</h3><dl>{fields}{tx_block(b["tx_hash"], b["block"])}</dl></li>')
    return f'<ol class="cards">{"".join(cards)}</ol>'
