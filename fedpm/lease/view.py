"""Explorer section for leases: pure HTML from invoices (no I/O, all text escaped).

`lease_sections(invoices)` returns one `<section>` with a summary table and a statement per lease; the explorer
gets the invoices with `fedpm.lease.invoice.read_invoice(contract, lease_id)` for ids 1..leaseCount().
"""

from __future__ import annotations

from html import escape
from typing import Iterable

from fedpm.lease.invoice import Invoice
from fedpm.lease.tariff import UNIT_SCALE, fmt_amount


def _cell(value: object) -> str:
    return f"<td>{escape(str(value))}</td>"


def lease_rows(invoices: Iterable[Invoice]) -> list[dict[str, object]]:
    """The table data (for a JSON endpoint or another renderer)."""
    rows = []
    for inv in invoices:
        t = inv.tariff
        rows.append({"lease": inv.lease_id, "machine": inv.machine_id, "owner": inv.owner_org, "lessee": inv.lessee_org or "-",
                     "status": inv.status, "tariff": f"{fmt_amount(t.unit_price)} {t.currency}/{t.unit.json_name}" if t else "-",
                     "usage": f"{inv.usage / UNIT_SCALE:g}", "deposited": fmt_amount(inv.deposited), "charged": fmt_amount(inv.charged),
                     "unpaid": fmt_amount(inv.unpaid), "withdrawn": fmt_amount(inv.withdrawn), "refunded": fmt_amount(inv.refunded),
                     "held": fmt_amount(inv.held)})
    return rows


def lease_sections(invoices: Iterable[Invoice]) -> str:
    invoices = list(invoices)
    rows = lease_rows(invoices)
    head = ("lease", "machine", "owner", "lessee", "status", "tariff", "usage", "deposited", "charged", "unpaid", "withdrawn", "refunded", "held")
    out = ['<section id="leases"><h2>Machine leases</h2>']
    if not rows:
        out.append("<p>No leases yet.</p></section>")
        return "".join(out)
    out.append('<table class="leases"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    for row in rows:
        out.append('<tr class="status-' + escape(str(row["status"]).lower()) + '">' + "".join(_cell(row[h]) for h in head) + "</tr>")
    out.append("</tbody></table>")
    for inv in invoices:
        out.append(f'<details id="lease-{inv.lease_id}"><summary>Lease {inv.lease_id} statement</summary><table class="statement">'
                   "<thead><tr><th>block</th><th>entry</th><th>amount</th><th>detail</th></tr></thead><tbody>")
        for line in inv.lines:
            out.append("<tr>" + _cell(line.block) + _cell(line.kind) + _cell(fmt_amount(line.amount)) + _cell(line.detail) + "</tr>")
        out.append("</tbody></table></details>")
    out.append("</section>")
    return "".join(out)
