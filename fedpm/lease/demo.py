"""Demo hook: one lease from offer to invoice on the bootstrapped consortium.

`run_lease_demo(consortium, settings)` mints tokens (a Mint proposal the governors approve k-of-n), offers the first operator's machine (manufacturer),
accepts with a device-signed opening reading (operator), submits three device-signed cumulative readings,
withdraws the earnings, closes with a final reading and — only on anvil, where time can be advanced with
`evm_increaseTime` — claims the refund after the dispute window; on any other chain the refund step is skipped
(and the summary says so). Returns a `LeaseDemoSummary`; `format_lease_demo` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedpm.lease.client import MachineLease
from fedpm.lease.invoice import Invoice, format_invoice
from fedpm.lease.tariff import UNIT_SCALE, Tariff, Unit

TOKEN = 10**18


@dataclass
class LeaseDemoSummary:
    lease_id: int
    machine_id: str
    invoice: Invoice
    reconciled: bool
    refund_claimed: bool
    notes: list[str] = field(default_factory=list)
    gas: dict[str, int] = field(default_factory=dict)


def _is_anvil(w3: Any) -> bool:
    try:
        return "anvil" in str(w3.provider.make_request("web3_clientVersion", [])["result"]).lower()
    except Exception:  # noqa: BLE001 - any node that cannot answer is not anvil
        return False


def _now(w3: Any) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def _tick(w3: Any, anvil: bool, seconds: int) -> int:
    """A fresh reading time: advance anvil's clock; elsewhere wait for a newer block time is not possible, so use now."""
    if anvil:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])
    return _now(w3)


def run_lease_demo(consortium: Any, settings: Any = None, *, lessee: str | None = None, owner: str = "maker", governors: list[str] | None = None) -> LeaseDemoSummary:
    w3 = consortium.ctx.w3
    lease = MachineLease(consortium.ctx)
    lessee = lessee or next(iter(consortium.machines))
    governors = governors or [org for org in consortium.accounts if org.startswith("gov")]
    machine_id = consortium.machines[lessee]
    device = consortium.devices[machine_id]
    anvil = _is_anvil(w3)
    gas: dict[str, int] = {}
    notes: list[str] = []

    gas["mint"] = consortium.mint(governors, consortium.accounts[lessee].address, 50 * TOKEN).gas_used  # the executed Mint proposal
    active = lease.active_lease(machine_id)
    if active:
        notes.append(f"machine {machine_id} already had open lease {active}; cancelling/closing is left to its parties")
    tariff = Tariff(f"demo-{machine_id}"[:31], Unit.OPERATING_HOUR, 2 * TOKEN, _now(w3) + 30 * 86400, min_deposit=10 * TOKEN,
                    cap=40 * TOKEN, cap_period=86400)
    lease_id, rcpt = lease.offer(consortium.sender(owner), machine_id, tariff)
    gas["offer"] = rcpt.gas_used
    # readings strictly increase; on a real chain the block clock cannot be advanced, so they start a little in the
    # past, but not before the device key signs for the machine (its manufacturer bound it then)
    base = max(_now(w3) - 10, consortium.registry.device(device.address).valid_from)
    opening = lease.sign_usage(device, lease_id, machine_id, 1_000 * UNIT_SCALE, base)
    gas["accept"] = lease.accept(consortium.sender(lessee), lease_id, 20 * TOKEN, opening).gas_used
    counter = 1_000 * UNIT_SCALE
    for i, hours in enumerate((1.5, 2.0, 0.75), start=1):
        counter += int(hours * UNIT_SCALE)
        read_at = _tick(w3, anvil, 3600) if anvil else base + i
        gas[f"report_{i}"] = lease.report_usage(consortium.sender(owner), lease.sign_usage(device, lease_id, machine_id, counter, read_at)).gas_used
    gas["withdraw"] = lease.withdraw(consortium.sender(owner), lease_id)[1].gas_used
    final_at = _tick(w3, anvil, 600) if anvil else base + 4
    counter += UNIT_SCALE // 4
    gas["close"] = lease.close(consortium.sender(lessee), lease_id, lease.sign_usage(device, lease_id, machine_id, counter, final_at)).gas_used
    refunded = False
    if anvil:
        _tick(w3, anvil, lease.dispute_window())
        gas["claim_refund"] = lease.claim_refund(consortium.sender(lessee), lease_id).gas_used
        refunded = True
    else:
        notes.append("refund skipped: not an anvil chain, the dispute window cannot be fast-forwarded (claim it later with `fedpm lease refund`)")
    inv = lease.invoice(lease_id)
    return LeaseDemoSummary(lease_id, machine_id, inv, lease.reconcile(inv).ok, refunded, notes, gas)


def format_lease_demo(summary: LeaseDemoSummary) -> str:
    lines = [f"lease demo: lease {summary.lease_id} on {summary.machine_id}: {summary.invoice.status_name}, "
             f"reconciled with contract: {'yes' if summary.reconciled else 'NO'}, refund {'claimed' if summary.refund_claimed else 'skipped'}"]
    lines += [f"  note: {n}" for n in summary.notes]
    lines.append("  gas: " + ", ".join(f"{k} {v}" for k, v in summary.gas.items()))
    lines.append(format_invoice(summary.invoice))
    return "\n".join(lines)


def lease_demo_json(summary: LeaseDemoSummary) -> dict[str, Any]:
    return {"leaseId": summary.lease_id, "machineId": summary.machine_id, "reconciled": summary.reconciled,
            "refundClaimed": summary.refund_claimed, "notes": summary.notes, "gas": summary.gas, "invoice": summary.invoice.to_json_dict()}
