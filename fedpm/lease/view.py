"""The explorer's lease table: one row of display values per invoice (pure, no I/O).

The explorer gets the invoices with `fedpm.lease.invoice.read_invoice(contract, lease_id)` for ids 1..leaseCount().
"""

from __future__ import annotations

from typing import Iterable

from fedpm.lease.invoice import Invoice
from fedpm.lease.tariff import UNIT_SCALE, fmt_amount


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

