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
header{background:#14284b;color:#fff;padding:10px 16px}
header .bar{max-width:1008px;margin:0 auto;display:flex;flex-wrap:wrap;align-items:center;gap:6px 20px}
header .brand{color:#fff;text-decoration:none;font-weight:600;font-size:18px}
header nav{display:flex;flex-wrap:wrap;gap:4px;margin-left:-10px}
header nav a{color:#dbe4f3;text-decoration:none;font-size:14.5px;padding:6px 10px;border-radius:6px;white-space:nowrap}
header nav a:hover{background:#223d6b;color:#fff}
header nav a[aria-current=page]{background:#2d5192;color:#fff;font-weight:600}
header .chain{max-width:1008px;margin:2px auto 0;color:#c8d3e6;font-size:13px;overflow-wrap:anywhere}
@media (min-width:720px){header nav{margin-left:0}}
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
.badge.altered,.badge.out-of-order,.badge.forged,.badge.tampered,.badge.replayed,.badge.unbound,.badge.not-on-chain,.badge.root-mismatch,.badge.corrupt,.badge.out-of-sequence,.badge.not-anchored,.badge.missing-blocks,.badge.fail{background:var(--bad-bg);color:var(--bad)}
.badge.missing-locally,.badge.missing-on-chain,.badge.missing,.badge.unanchored,.badge.unchecked{background:var(--warn-bg);color:var(--warn)}
.badge.neutral{background:var(--grey-bg);color:var(--grey)}
.badge.active,.badge.finalized,.badge.agree,.badge.reconciled,.badge.included,.badge.done{background:var(--ok-bg);color:var(--ok)}
.badge.failed,.badge.dissent,.badge.excluded,.badge.not-reconciled,.badge.error,.badge.revoked{background:var(--bad-bg);color:var(--bad)}
.badge.paused,.badge.closing,.badge.pending,.badge.aggregating,.badge.collecting,.badge.open,.badge.running{background:var(--warn-bg);color:var(--warn)}
.badge.offered,.badge.scheduled{background:#dde8fb;color:var(--accent)}
.badge.closed,.badge.cancelled,.badge.no-vote,.badge.retired{background:var(--grey-bg);color:var(--grey)}
h3 .sub{font-weight:400;color:var(--muted);font-size:14px}
h4{font-size:14px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.ledger{list-style:none;margin:4px 0 0;padding:0;display:grid;gap:6px}
.ledger li{border-top:1px solid var(--line);padding-top:6px;font-size:14px;min-width:0;overflow-wrap:anywhere}
.ledger .top{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.ledger .kind{font-weight:600}
.ledger .amount{margin-left:auto;font-variant-numeric:tabular-nums}
.ledger .detail{color:var(--muted)}
.ref{font-size:12.5px;color:var(--muted);overflow-wrap:anywhere}
.ref .tx{color:var(--ink)}
.addr{color:var(--muted);font-size:12.5px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
[data-address]{display:inline-block;max-width:100%}
.task{margin-bottom:28px}
.cards.rounds{margin-top:12px;align-items:start}
@media (min-width:900px){.cards.rounds,.cards.leases{grid-template-columns:repeat(2,1fr)}}
.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 10px;margin:12px 0}
.chart svg{display:block;width:100%;height:auto;max-height:200px}
.chart figcaption{font-size:13px;color:var(--muted)}
.timeline{border-left:3px solid var(--line);margin-left:6px;padding-left:14px}
.timeline .card{position:relative}
.timeline .card::before{content:"";position:absolute;left:-22px;top:16px;width:11px;height:11px;border-radius:50%;background:var(--accent);border:2px solid var(--bg)}
.desc{margin:4px 0 0;overflow-wrap:anywhere}
.note{background:var(--card);border:1px dashed var(--line);border-radius:8px;padding:12px 14px;color:var(--muted);overflow-wrap:anywhere;margin-bottom:8px}
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


NAV = (("machines", "/", "Machines"), ("fleet", "/fleet", "Fleet health"), ("parts", "/parts", "Parts"), ("leases", "/leases", "Leases"),
       ("fl", "/fl", "Federated learning"))


def nav(active: str | None) -> str:
    current = ' aria-current="page"'
    links = "".join(f'<a href="{href}"{current if key == active else ""} data-nav="{key}">{esc(label)}</a>' for key, href, label in NAV)
    return f'<nav aria-label="Explorer sections">{links}</nav>'


def page(title: str, body: str, chain: dict[str, Any] | None = None, active: str | None = None) -> str:
    chain_line = ""
    if chain:
        chain_line = f'<div class="chain">chain {esc(chain.get("chain_id"))} · block {esc(chain.get("block"))} · {esc(chain.get("url"))}</div>'
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)} · fedpm explorer</title><style>{CSS}</style></head><body>"
            f"<header><div class=\"bar\"><a class=\"brand\" href=\"/\">fedpm explorer</a>{nav(active)}</div>{chain_line}</header>"
            f"<main>{body}</main><footer>fedpm · records stay with their owners; only their hashes are on chain</footer></body></html>")


def error_page(title: str, message: str, hint: str | None = None) -> str:
    hint_html = f"<p>{esc(hint)}</p>" if hint else ""
    return page(title, f'<h1>{esc(title)}</h1><div class="error" role="alert"><strong>{esc(message)}</strong>{hint_html}</div>'
                       '<p><a href="/">Back to machines</a></p>')


def machines_page(data: dict[str, Any]) -> str:
    machines = data["machines"]
    if not machines:
        body = '<h1>Machines</h1><div class="note" id="empty">No machines registered yet. Register one with <code>fedpm machine register</code>.</div>'
        return page("Machines", body, data.get("chain"), "machines")
    cards = []
    for m in machines:
        status = None if m.get("maintenance_ok") is None else ("verified" if m["maintenance_ok"] else "altered")
        label = None if status is None else ("history verified" if m["maintenance_ok"] else "discrepancies")
        cards.append(f'<li class="card machine" data-machine="{esc(m["id"])}"><h3><a href="{esc(machine_url(m["id"]))}">{esc(m["id"])}</a>'
                     f'{badge(status, label)}</h3><dl><dt>operator</dt><dd>{esc(m["operator"])}</dd>'
                     f'<dt>manufacturer</dt><dd>{esc(m["manufacturer"])}</dd>'
                     f'<dt>maintenance</dt><dd>{esc(m.get("maintenance_entries", "-"))} entries on chain</dd></dl></li>')
    body = f'<h1>Machines</h1><p class="summary">{len(machines)} registered</p><ul class="cards machines">{"".join(cards)}</ul>'
    return page("Machines", body, data.get("chain"), "machines")


def machine_page(data: dict[str, Any], renderers: Iterable[tuple[str, str, Any]]) -> str:
    """`renderers`: (key, title, render(section_data) -> html) of each registered section, in order."""
    m = data["machine"]
    parts = [f'<h1>{esc(m["id"])}</h1><dl class="card"><dt>operator</dt><dd>{esc(m["operator"])}</dd>'
             f'<dt>manufacturer</dt><dd>{esc(m["manufacturer"])}</dd><dt>metadata</dt><dd class="hash">{esc(m["metadata_hash"])}</dd></dl>']
    for key, title, render in renderers:
        section = data["sections"].get(key, {})
        inner = render(section) if section.get("available") else f'<div class="note">{esc(section.get("message", "not available"))}</div>'
        parts.append(f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{inner}</section>')
    return page(m["id"], "".join(parts), data.get("chain"), "machines")


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


def render_reception(reception: dict[str, Any] | None) -> str:
    """The local gateway's view of the machine's device blocks: received per device, and every gap in a device's seqs."""
    if not reception or not reception["streams"]:
        return ""
    streams = ", ".join(f'device {esc(short(s["device"]))}: {esc(s["blocks_received"])} block(s) up to seq {esc(s["last_seq"])}' for s in reception["streams"])
    if not reception["gaps"]:
        return f'<p class="summary reception">gateway received every block: {streams}</p>'
    gaps = "".join(f'<li class="gap" data-device="{esc(g["device"])}" data-first="{esc(g["first"])}" data-last="{esc(g["last"])}">device {esc(short(g["device"]))} seq {esc(g["first"])}'
                   + (f"..{esc(g['last'])}" if g["last"] > g["first"] else "") + "</li>" for g in reception["gaps"])
    missing = badge("missing", f"{reception['blocks_missing']} block(s) never received")
    return f'<div class="note reception">{missing} {streams}<ul class="gaps">{gaps}</ul></div>'


def ms_when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def check_badge(status: str) -> str:
    """A verification result as a badge: ok -> verified, anything else named as it failed."""
    return badge("verified") if status == "ok" else badge(status)


def render_sensor_batches(section: dict[str, Any]) -> str:
    batches = section["batches"]
    reception = render_reception(section.get("reception"))
    if not batches:
        return reception + f'<div class="note">{esc(section.get("note") or "No sensor batches of this machine in the local gateway store yet.")}</div>'
    cards = []
    for b in batches:
        a = b.get("anchor") or {}
        rows = (f'<dt>device</dt><dd class="hash">{esc(b["device"])}</dd><dt>blocks</dt><dd>{esc(b["blocks"])} (seq {esc(b["first_seq"])}..{esc(b["last_seq"])})</dd>'
                f'<dt>readings</dt><dd>{esc(b["readings"])}</dd><dt>from</dt><dd>{esc(ms_when(b["from_ms"]))}</dd><dt>to</dt><dd>{esc(ms_when(b["to_ms"]))}</dd>'
                f'<dt>root</dt><dd class="hash">{esc(b["root"])}</dd>')
        if a:
            rows += f'<dt>anchored root</dt><dd class="hash">{esc(a["root"])}</dd>' + tx_block(a.get("tx"), a.get("block"))
        if b.get("detail"):
            rows += f'<dt>note</dt><dd>{esc(b["detail"])}</dd>'
        cards.append(f'<li class="card batch" data-first="{esc(b["first_seq"])}"><h3>{check_badge(b["status"])} blocks {esc(b["first_seq"])}..{esc(b["last_seq"])}</h3><dl>{rows}</dl></li>')
    return f'{reception}<ol class="cards">{"".join(cards)}</ol>'


# ---------------------------------------------------------------- shared bits of the lease and FL pages


def ref(tx: str | None, block: int | None, label: str = "") -> str:
    """A compact on-chain reference (block and full tx hash) for items listed inside a card."""
    if not tx:
        return ""
    lead = f"{esc(label)} · " if label else ""
    return (f'<div class="ref">{lead}block <span data-block="{esc(block)}">{esc(block)}</span> · '
            f'tx <span class="tx" data-tx="{esc(tx)}">{esc(tx)}</span></div>')


def short(address: str | None) -> str:
    a = address or ""
    return a if len(a) <= 14 else f"{a[:8]}…{a[-4:]}"


def who(address: str | None, names: dict[str, str]) -> str:
    """An account as its org name (when it has one) and a shortened address; the full address is in `title`."""
    if not address:
        return "-"
    name = names.get(address)
    addr = f'<span class="addr" title="{esc(address)}">{esc(short(address))}</span>'
    return f'<span data-address="{esc(address)}">{esc(name)} {addr}</span>' if name else f'<span data-address="{esc(address)}">{addr}</span>'


def unavailable_note(data: dict[str, Any], default: str) -> str:
    return f'<div class="note" id="unavailable">{esc(data.get("message") or default)}</div>'


# ---------------------------------------------------------------- leases


def render_leases(section: dict[str, Any], show_machine: bool = True) -> str:
    leases = section.get("leases", [])
    if not leases:
        return '<div class="note" id="empty">No leases yet. A manufacturer offers one with <code>fedpm lease offer</code>.</div>'
    return f'<ol class="cards leases">{"".join(_lease_card(x, show_machine) for x in leases)}</ol>'


def _lease_card(lease: dict[str, Any], show_machine: bool) -> str:
    lid = lease.get("leaseId")
    if lease.get("error"):
        return (f'<li class="card lease" data-lease="{esc(lid)}"><h3>Lease {esc(lid)} {badge("error", "unreadable")}</h3>'
                f'<p class="desc">{esc(lease["error"])}</p></li>')
    d, owner, lessee = lease["display"], lease["owner"], lease["lessee"]
    status = str(lease["status"])
    rec = badge("reconciled") if lease.get("reconciled") else badge("not-reconciled", "does not reconcile")
    machine = f' <a class="sub" href="{esc(machine_url(lease["machineId"]))}">{esc(lease["machineId"])}</a>' if show_machine else ""
    rows = [f'<dt>owner</dt><dd>{esc(owner["org"])} <span class="addr" title="{esc(owner["account"])}">{esc(short(owner["account"]))}</span></dd>',
            f'<dt>lessee</dt><dd>{esc(lessee["org"] or "-")}'
            + (f' <span class="addr" title="{esc(lessee["account"])}">{esc(short(lessee["account"]))}</span>' if lessee["account"] else "") + "</dd>",
            f'<dt>tariff</dt><dd data-field="tariff">{esc(d["tariff"])}'
            + (f' <span class="sub">({esc((lease.get("tariff") or {}).get("tariffId", ""))})</span>' if lease.get("tariff") else "") + "</dd>",
            f'<dt>usage</dt><dd>{esc(d["usage"])}</dd>']
    for key in ("deposited", "charged", "refunded", "unpaid", "withdrawn", "held"):
        rows.append(f'<dt>{key}</dt><dd data-field="{key}">{esc(d[key])}</dd>')
    lines = []
    for line in lease.get("lines", []):
        detail = f'<div class="detail">{esc(line["detail"])}</div>' if line.get("detail") else ""
        amount = f'<span class="amount">{esc(line["amount_display"])}</span>' if line.get("amount") else ""
        lines.append(f'<li class="line" data-kind="{esc(line["kind"])}"><div class="top"><span class="kind">{esc(line["kind"])}</span>{amount}</div>'
                     f'{detail}{ref(line["tx"], line["block"])}</li>')
    return (f'<li class="card lease" data-lease="{esc(lid)}" data-status="{esc(status)}">'
            f'<h3>Lease {esc(lid)}{machine} {badge(status.lower(), status)} {rec}</h3><dl>{"".join(rows)}</dl>'
            f'<h4>On chain ({len(lines)})</h4><ol class="ledger">{"".join(lines)}</ol></li>')


def leases_page(data: dict[str, Any]) -> str:
    if not data.get("available"):
        return page("Leases", '<h1>Leases</h1>' + unavailable_note(data, "no lease contract deployed"), data.get("chain"), "leases")
    leases = data["leases"]
    counts: dict[str, int] = {}
    for x in leases:
        counts[x.get("status", "unreadable")] = counts.get(x.get("status", "unreadable"), 0) + 1
    summary = f'<p class="summary">{len(leases)} lease{"" if len(leases) == 1 else "s"}' + (
        " · " + ", ".join(f"{n} {esc(k).lower()}" for k, n in sorted(counts.items())) if counts else "") + "</p>"
    return page("Leases", f"<h1>Leases</h1>{summary}{render_leases(data)}", data.get("chain"), "leases")


# ---------------------------------------------------------------- federated learning


def loss_chart(rounds: list[dict[str, Any]]) -> str:
    """Inline SVG of the sample-weighted mean training loss per round (no scripts, no external resources)."""
    points = [(r["round"], float(r["mean_loss"])) for r in rounds if r.get("mean_loss") is not None]
    if not points:
        return ""
    w, h, left, right, top, bottom = 600, 180, 52, 16, 14, 30
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 if lo >= 0.5 else 0.0, hi + 0.5
    first, last = points[0][0], points[-1][0]
    span = max(1, last - first)

    def x(r: int) -> float:
        return left + (w - left - right) * ((r - first) / span if last != first else 0.5)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    poly = " ".join(f"{x(r):.1f},{y(v):.1f}" for r, v in points)
    dots = "".join(f'<circle cx="{x(r):.1f}" cy="{y(v):.1f}" r="4" fill="#1f5fbf"><title>round {esc(r)}: {v:.4f}</title></circle>'
                   for r, v in points)
    xlabels = "".join(f'<text x="{x(r):.1f}" y="{h - 8}" text-anchor="middle">{esc(r)}</text>' for r, _ in points)
    axes = (f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#dde1e7"/>'
            f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#dde1e7"/>'
            f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" text-anchor="end">{hi:.3g}</text>'
            f'<text x="{left - 6}" y="{y(lo) + 4:.1f}" text-anchor="end">{lo:.3g}</text>')
    svg = (f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="mean training loss per round" font-size="12" fill="#5b6675">'
           f'{axes}<polyline points="{poly}" fill="none" stroke="#1f5fbf" stroke-width="2"/>{dots}{xlabels}</svg>')
    return f'<figure class="chart" data-points="{len(points)}">{svg}<figcaption>Mean local training loss per round (weighted by samples)</figcaption></figure>'


def _round_card(r: dict[str, Any], names: dict[str, str]) -> str:
    state = r["state"]
    rows = []
    if r.get("model_hash"):
        rows.append(f'<dt>aggregate</dt><dd class="hash" data-model-hash="{esc(r["model_hash"])}">{esc(r["model_hash"])}</dd>'
                    f'<dt>CID</dt><dd class="hash" data-model-cid="{esc(r["model_cid"])}">{esc(r["model_cid"])}</dd>')
    if r.get("failure"):
        rows.append(f'<dt>failure</dt><dd class="failure">{esc(r["failure"])}</dd>')
    rows.append(f'<dt>updates</dt><dd>{len(r["participants"])} committed, {len(r["excluded"])} excluded</dd>')
    if r.get("mean_loss") is not None:
        rows.append(f'<dt>mean loss</dt><dd>{r["mean_loss"]:.4f}</dd>')
    if r.get("base_model_hash"):
        rows.append(f'<dt>base model</dt><dd class="hash">{esc(r["base_model_hash"])}</dd>')
    updates = []
    for u in r["participants"]:
        mark = badge("excluded") if u["excluded"] else badge("included") if r.get("model_hash") else badge(None, "committed")
        loss = f'loss {u["loss"]:.4f} · ' if u.get("loss") is not None else ""
        updates.append(f'<li class="update" data-trainer="{esc(u["trainer"])}" data-excluded="{str(bool(u["excluded"])).lower()}">'
                       f'<div class="top"><span class="kind">{who(u["trainer"], names)}</span>{mark}</div>'
                       f'<div class="detail">{loss}{esc(u.get("samples"))} samples · update <span class="hash">{esc(u.get("update_hash"))}</span>'
                       f' · CID <span class="hash">{esc(u.get("cid"))}</span></div>'
                       f'{ref(u.get("tx"), u.get("block"))}</li>')
    votes = []
    for v in r["votes"]:
        votes.append(f'<li class="vote" data-aggregator="{esc(v["aggregator"])}" data-verdict="{esc(v["verdict"])}">'
                     f'<div class="top"><span class="kind">{who(v["aggregator"], names)}</span>{badge(v["verdict"])}</div>'
                     f'<div class="detail">voted <span class="hash">{esc(v["hash"])}</span></div>{ref(v.get("tx"), v.get("block"))}</li>')
    others = [e for e in r["events"] if e["event"] not in ("UpdateCommitted", "AggregateVoted")]
    evs = "".join(f'<li class="event" data-event="{esc(e["event"])}">{ref(e["tx"], e["block"], e["event"])}</li>' for e in others)
    parts = [f'<li class="card round" id="round-{esc(r["round"])}" data-round="{esc(r["round"])}" data-state="{esc(state)}">',
             f'<h3>Round {esc(r["round"])} {badge(state)}</h3><dl>{"".join(rows)}</dl>']
    if updates:
        parts.append(f'<h4>Updates</h4><ol class="ledger">{"".join(updates)}</ol>')
    if votes:
        parts.append(f'<h4>Votes</h4><ol class="ledger">{"".join(votes)}</ol>')
    if evs:
        parts.append(f'<h4>Round events</h4><ol class="ledger">{evs}</ol>')
    parts.append("</li>")
    return "".join(parts)


def _task_section(t: dict[str, Any], names: dict[str, str]) -> str:
    tid = t["task_id"]
    status = badge("done", "complete") if t["done"] else badge("running")
    created = t.get("created") or {}
    rows = [f'<dt>coordinator</dt><dd>{who(t["coordinator"], names)}</dd>',
            f'<dt>rounds</dt><dd>{esc(t["rounds_finalized"])} finalized of {esc(t["rounds_planned"])} planned ({esc(t["rounds_started"])} started)</dd>',
            f'<dt>quorum</dt><dd>{esc(t["quorum"])} of {len(t["aggregators"])} aggregators · min {esc(t["min_participants"])} updates</dd>',
            f'<dt>trainers</dt><dd>{", ".join(who(a, names) for a in t["trainers"])}</dd>',
            f'<dt>aggregators</dt><dd>{", ".join(who(a, names) for a in t["aggregators"])}</dd>',
            f'<dt>model</dt><dd class="hash">{esc(t["model_hash"])}</dd><dt>model CID</dt><dd class="hash">{esc(t["model_cid"])}</dd>',
            f'<dt>spec</dt><dd class="hash">{esc(t["spec_hash"])}</dd><dt>spec CID</dt><dd class="hash">{esc(t["spec_cid"])}</dd>',
            tx_block(created.get("tx"), created.get("block"))]
    rounds = "".join(_round_card(r, names) for r in reversed(t["rounds"]))
    rounds_html = f'<ol class="cards rounds">{rounds}</ol>' if rounds else '<div class="note">No round opened yet.</div>'
    return (f'<section class="task" id="task-{esc(tid)}" data-task="{esc(tid)}"><h2>Task {esc(tid)} {status}</h2>'
            f'<dl class="card">{"".join(rows)}</dl>{loss_chart(t["rounds"])}{rounds_html}</section>')


def fl_page(data: dict[str, Any]) -> str:
    title = "Federated learning"
    if not data.get("available"):
        return page(title, f"<h1>{title}</h1>" + unavailable_note(data, "no federated learning contract deployed"), data.get("chain"), "fl")
    tasks, names = data["tasks"], data.get("names", {})
    if not tasks:
        body = f'<h1>{title}</h1><div class="note" id="empty">No federated learning task yet. A governor creates one with <code>fedpm task create</code>.</div>'
        return page(title, body, data.get("chain"), "fl")
    summary = f'<p class="summary">{len(tasks)} task{"" if len(tasks) == 1 else "s"} · newest first</p>'
    return page(title, f"<h1>{title}</h1>{summary}" + "".join(_task_section(t, names) for t in tasks), data.get("chain"), "fl")
