"""A lease statement rebuilt from chain events alone, reconciled against what the contract holds.

`build_invoice(lease_id, events)` is pure: it folds the decoded MachineLease events of one lease (in chain order)
into usage periods, charges, top-ups, withdrawals and the refund, and derives the balances
(held = deposited - withdrawn - refunded, which must equal `MachineLease.held(id)`; the sum over all leases
must equal the token balance of the contract). This module reads no chain: the MachineLease client
(`fedpm.lease.client`) fetches the events (`decode_event` shapes each) and reconciles the statement.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from fedpm.lease.tariff import UNIT_SCALE, Balances, BillingPeriod, LeaseStatus, Tariff, Unit, fmt_amount, fmt_time
from ground.errors import FedpmError
from ground.ids import from_bytes32

EVENT_NAMES = ("LeaseOffered", "OfferCancelled", "LeaseAccepted", "UsageCharged", "LeasePaused", "LeaseResumed",
               "ToppedUp", "EarningsWithdrawn", "LeaseClosing", "Refunded")


class InvoiceError(FedpmError):
    """The events do not describe a lease, or do not reconcile with the chain."""


@dataclass(frozen=True)
class LeaseEvent:
    """A decoded event, reduced to plain values: name, position in the chain, arguments."""

    name: str
    block: int
    log_index: int
    tx: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Line:
    kind: str  # offer, accept, usage, pause, resume, top-up, withdrawal, closing, refund, cancel
    block: int
    tx: str
    amount: int = 0
    detail: str = ""


@dataclass
class Invoice(Balances):
    lease_id: int
    machine_id: str = ""
    owner_org: str = ""
    owner: str = ""
    lessee_org: str = ""
    lessee: str = ""
    status: LeaseStatus | None = None  # None until the offer is folded in
    tariff: Tariff | None = None
    periods: list[BillingPeriod] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    deposited: int = 0
    charged: int = 0
    waived: int = 0
    unpaid: int = 0
    withdrawn: int = 0
    refunded: int = 0
    usage: int = 0  # milli-units charged or waived since the opening reading

    @property
    def status_name(self) -> str:
        """The status as statements show it ("Active"; "Unknown" before any event)."""
        return self.status.solidity_name if self.status is not None else "Unknown"

    @property
    def earnings_due(self) -> int:
        return self.charged - self.withdrawn

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "leaseId": self.lease_id, "machineId": self.machine_id, "status": self.status_name,
            "owner": {"org": self.owner_org, "account": self.owner}, "lessee": {"org": self.lessee_org, "account": self.lessee},
            "tariff": self.tariff.to_json_dict() if self.tariff else None,
            "billing": [p.to_json_dict() for p in self.periods],
            "lines": [asdict(line) for line in self.lines],
            "totals": {"deposited": self.deposited, "charged": self.charged, "waived": self.waived, "unpaid": self.unpaid,
                       "withdrawn": self.withdrawn, "refunded": self.refunded, "available": self.available, "held": self.held,
                       "earningsDue": self.earnings_due, "usageMilli": self.usage},
        }


def build_invoice(lease_id: int, events: Iterable[LeaseEvent]) -> Invoice:
    """Fold one lease's events (any order; sorted here by block and log index) into its statement."""
    inv = Invoice(lease_id)
    ordered = sorted((e for e in events if int(e.args.get("leaseId", lease_id)) == lease_id), key=lambda e: (e.block, e.log_index))
    if not ordered or ordered[0].name != "LeaseOffered":
        raise InvoiceError(f"no offer found for lease {lease_id}", hint="check the lease id (fedpm lease invoice --lease ID)")
    for e in ordered:
        _apply(inv, e)
    return inv


def _apply(inv: Invoice, e: LeaseEvent) -> None:
    a = e.args
    if e.name == "LeaseOffered":
        inv.machine_id, inv.owner_org, inv.owner = _text(a["machineId"]), _text(a["ownerOrg"]), a["owner"]
        inv.tariff = Tariff.from_chain(_tariff_tuple(a["tariff"]))
        inv.status = LeaseStatus.OFFERED
        inv.lines.append(Line("offer", e.block, e.tx, 0, f"tariff {inv.tariff.tariff_id}: {fmt_amount(inv.tariff.unit_price)} {inv.tariff.currency} per {inv.tariff.unit.json_name}"))
    elif e.name == "OfferCancelled":
        inv.status = LeaseStatus.CANCELLED
        inv.lines.append(Line("cancel", e.block, e.tx))
    elif e.name == "LeaseAccepted":
        inv.lessee_org, inv.lessee, inv.status = _text(a["lesseeOrg"]), a["lessee"], LeaseStatus.ACTIVE
        inv.deposited += a["deposit"]
        inv.lines.append(Line("accept", e.block, e.tx, a["deposit"], f"opening counter {a['openingCounter']} at {fmt_time(a['openingReadAt'])}"))
    elif e.name == "UsageCharged":
        _usage(inv, e)
    elif e.name == "LeasePaused":
        inv.status = LeaseStatus.PAUSED
        inv.lines.append(Line("pause", e.block, e.tx, a["unpaid"], "deposit used up; usage accrues as unpaid"))
    elif e.name == "LeaseResumed":
        inv.status = LeaseStatus.ACTIVE
        inv.lines.append(Line("resume", e.block, e.tx))
    elif e.name == "ToppedUp":
        inv.deposited += a["amount"]
        inv.charged += a["settled"]
        inv.unpaid -= a["settled"]
        inv.lines.append(Line("top-up", e.block, e.tx, a["amount"], f"settled unpaid {a['settled']}" if a["settled"] else ""))
    elif e.name == "EarningsWithdrawn":
        inv.withdrawn += a["amount"]
        inv.lines.append(Line("withdrawal", e.block, e.tx, a["amount"], f"to {a['to']}"))
    elif e.name == "LeaseClosing":
        inv.status = LeaseStatus.CLOSING
        inv.lines.append(Line("closing", e.block, e.tx, 0, f"closed at {fmt_time(a['closedAt'])}, refund from {fmt_time(a['disputeEndsAt'])}"))
    elif e.name == "Refunded":
        inv.refunded += a["amount"]
        inv.status = LeaseStatus.CLOSED
        inv.lines.append(Line("refund", e.block, e.tx, a["amount"], f"to {a['to']}"))


def _usage(inv: Invoice, e: LeaseEvent) -> None:
    a = e.args
    tariff = inv.tariff
    inv.charged += a["amount"]
    inv.waived += a["waived"]
    inv.unpaid += a["unpaid"]
    inv.usage += a["usage"]
    unit = tariff.unit if tariff else Unit.OPERATING_HOUR
    inv.periods.append(BillingPeriod(inv.lease_id, tariff.tariff_id if tariff else "", a["fromReadAt"], a["readAt"], unit, a["usage"],
                                     a["amount"], a["waived"], a["unpaid"], tariff.currency if tariff else "FCT"))
    extra = "".join(f", {k} {a[k]}" for k in ("waived", "unpaid") if a[k])
    inv.lines.append(Line("usage", e.block, e.tx, a["amount"], f"{a['usage'] / UNIT_SCALE:g} {unit.json_name} (counter {a['counter']}){extra}"))


def _text(raw: Any) -> str:
    return from_bytes32(raw) if isinstance(raw, (bytes, bytearray)) else str(raw)


def _tariff_tuple(value: Any) -> tuple:
    if isinstance(value, dict):
        return tuple(value[k] for k in ("tariffId", "unit", "unitPrice", "minDeposit", "cap", "capPeriod", "validUntil"))
    return tuple(value)


def format_invoice(inv: Invoice) -> str:
    """A human-readable statement (amounts in whole tokens, times in UTC)."""
    t = inv.tariff
    cur = t.currency if t else "FCT"
    out = [f"Lease {inv.lease_id} — machine {inv.machine_id} — {inv.status_name}",
           f"  owner  {inv.owner_org} ({inv.owner})", f"  lessee {inv.lessee_org or '-'} ({inv.lessee or '-'})"]
    if t:
        cap = f", cap {fmt_amount(t.cap)} per {t.cap_period}s" if t.cap and t.cap_period else (f", cap {fmt_amount(t.cap)} total" if t.cap else "")
        out.append(f"  tariff {t.tariff_id}: {fmt_amount(t.unit_price)} {cur} per {t.unit.json_name}, min deposit {fmt_amount(t.min_deposit)}{cap}, until {fmt_time(t.valid_until)}")
    out.append("  billing periods:")
    for p in inv.periods:
        out.append(f"    {fmt_time(p.period_from)} .. {fmt_time(p.period_until)}  {p.usage / UNIT_SCALE:>8g} {p.unit.json_name:<13} {fmt_amount(p.amount):>8} {cur}"
                   + (f"  waived {fmt_amount(p.waived)}" if p.waived else "") + (f"  unpaid {fmt_amount(p.unpaid)}" if p.unpaid else ""))
    if not inv.periods:
        out.append("    (no usage)")
    out.append("  statement:")
    for line in inv.lines:
        out.append(f"    #{line.block:<7} {line.kind:<10} {fmt_amount(line.amount):>8}  {line.detail}")
    out.append("  totals:")
    for label, value in (("deposited", inv.deposited), ("charged", inv.charged), ("waived (cap)", inv.waived), ("unpaid", inv.unpaid),
                         ("withdrawn", inv.withdrawn), ("refunded", inv.refunded), ("available", inv.available),
                         ("earnings due", inv.earnings_due), ("held by contract", inv.held)):
        out.append(f"    {label:<17} {fmt_amount(value):>10} {cur}")
    return "\n".join(out)


def invoice_json(inv: Invoice) -> str:
    return json.dumps(inv.to_json_dict(), indent=2, sort_keys=True)


# ---------------------------------------------------------------- events in, reconciliation out


def decode_event(name: str, log: Any) -> LeaseEvent:
    args = {k: (_plain(v)) for k, v in dict(log["args"]).items()}
    return LeaseEvent(name, int(log["blockNumber"]), int(log["logIndex"]), log["transactionHash"].to_0x_hex(), args)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Reconciliation:
    statement_held: int
    contract_held: int
    statement_available: int
    contract_available: int

    @property
    def ok(self) -> bool:
        return self.statement_held == self.contract_held and self.statement_available == self.contract_available
