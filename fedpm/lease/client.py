"""The lease feature's contract clients: MachineLease (typed lease views, statements rebuilt from its events, the
lease transactions) and ConsortiumToken (balances, allowances, approvals), after `chain.client.ContractClient`.

Deposits and top-ups approve the lease's own token (`MachineLease.token`) first, so callers send one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from chain.client import ContractClient
from chain.sender import Receipt, TxSender
from fedpm.lease.invoice import EVENT_NAMES, Invoice, LeaseEvent, Reconciliation, build_invoice, decode_event
from fedpm.lease.tariff import Balances, LeaseStatus, Tariff
from fedpm.lease.usage import SignedReport, UsageReport, sign_report
from ground.ids import from_bytes32, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "NotLessee": "only the machine's operator org (the lessee) can do this",
    "NotLeaseOwner": "only the offering manufacturer org can withdraw earnings",
    "MachineLeased": "the machine already has an open lease; close or cancel it first (fedpm lease close)",
    "DepositTooLow": "deposit at least the tariff's minimum deposit (approve the tokens first)",
    "CounterRollback": "usage counters are cumulative: report a counter at least the last one",
    "StaleReading": "this reading (or an older one) was already reported; sign a fresh one",
    "FutureReading": "the reading time is ahead of the chain clock; check the device clock",
    "StaleFinalReading": "close with a reading the device signed within the last hour (fedpm lease close --device KEYSTORE --counter, or a fresh --report)",
    "DisputeWindowOpen": "wait until the dispute window ends, then claim the refund (fedpm lease refund)",
    "NothingToWithdraw": "no new earnings on this lease yet",
    "WrongStatus": "the lease is not in a state that allows this (see fedpm lease invoice)",
    "ERC20InsufficientBalance": "not enough tokens: ask the governors to mint (fedpm lease mint, then approve and execute)",
    "NotRegistry": "tokens are minted by an executed Mint proposal only (fedpm lease mint, then consortium approve/execute)",
    "ERC20InsufficientAllowance": "approve the lease contract for the amount first",
}


@dataclass(frozen=True)
class LeaseView(Balances):
    """What MachineLease holds for one lease (its `LeaseInfo` struct)."""

    lease_id: int
    machine_id: str
    owner_org: str
    lessee_org: str
    status: LeaseStatus
    tariff: Tariff
    started_at: int
    closed_at: int
    last_read_at: int
    last_counter: int
    deposited: int
    charged: int
    withdrawn: int
    refunded: int
    unpaid: int
    period: int  # the cap period the last charge fell in
    period_charged: int  # charged within that period
    owner: str  # the account that offered: it withdraws the earnings
    lessee: str  # the account that paid the deposit: it claims the refund


class ConsortiumToken(ContractClient):
    """The consortium's settlement token (ERC-20). Supply changes only by an executed Mint proposal
    (`fedpm.consortium.client.ConsortiumRegistry.mint`), so this client has no mint."""

    CONTRACT = "ConsortiumToken"

    def balance_of(self, account: str) -> int:
        return int(self.call("balanceOf", account))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self.call("allowance", owner, spender))

    def total_supply(self) -> int:
        return int(self.call("totalSupply"))

    def approve(self, sender: TxSender, spender: str, amount: int) -> Receipt:
        return self.send(sender, "approve", spender, amount)


class MachineLease(ContractClient):
    """Reads and writes of the MachineLease contract for one chain context."""

    CONTRACT = "MachineLease"

    @cached_property
    def token(self) -> ConsortiumToken:
        """The token this lease contract settles in (its constructor's `token`)."""
        return ConsortiumToken(self.ctx, address=self.call("token"))

    # ---------------------------------------------------------------- reads

    def lease(self, lease_id: int) -> LeaseView:
        (machine, owner_org, lessee_org, status, tariff, started, closed, last_read, last_counter, deposited, charged, withdrawn, refunded,
         unpaid, period, period_charged, owner, lessee) = self.call("lease", lease_id)
        return LeaseView(lease_id, from_bytes32(machine), from_bytes32(owner_org), from_bytes32(lessee_org), LeaseStatus(status),
                         Tariff.from_chain(tariff), started, closed, last_read, last_counter, deposited, charged, withdrawn, refunded, unpaid,
                         period, period_charged, owner, lessee)

    def lease_count(self) -> int:
        return int(self.call("leaseCount"))

    def active_lease(self, machine_id: str) -> int:
        """The id of the machine's open lease, or 0."""
        return int(self.call("activeLease", to_bytes32(machine_id)))

    def held(self, lease_id: int) -> int:
        return int(self.call("held", lease_id))

    def available(self, lease_id: int) -> int:
        return int(self.call("available", lease_id))

    def dispute_window(self) -> int:
        """Seconds after closing before the lessee may claim the refund."""
        return int(self.call("DISPUTE_WINDOW"))

    def unit_scale(self) -> int:
        return int(self.call("UNIT_SCALE"))

    def usage_digest(self, report: UsageReport) -> bytes:
        """The EIP-712 digest the contract recovers the device from."""
        return bytes(self.call("usageDigest", report.to_chain()))

    def lease_ids(self, machine_id: str | None = None) -> list[int]:
        """Every lease id (1..leaseCount), or those offered for `machine_id` (from LeaseOffered events)."""
        if machine_id is None:
            return list(range(1, self.lease_count() + 1))
        return sorted({int(log["args"]["leaseId"]) for log in self.logs("LeaseOffered", machineId=to_bytes32(machine_id))})

    def lease_events(self, lease_id: int) -> list[LeaseEvent]:
        """Every MachineLease event of `lease_id`, decoded, in chain order."""
        found = [decode_event(name, log) for name in EVENT_NAMES for log in self.logs(name, leaseId=lease_id)]
        return sorted(found, key=lambda e: (e.block, e.log_index))

    def invoice(self, lease_id: int) -> Invoice:
        """The lease's statement rebuilt from its events alone (`InvoiceError` if they describe no lease)."""
        return build_invoice(lease_id, self.lease_events(lease_id))

    def reconcile(self, inv: Invoice) -> Reconciliation:
        """Compare the statement built from events with the contract's own per-lease balances."""
        return Reconciliation(inv.held, self.held(inv.lease_id), inv.available, self.available(inv.lease_id))

    def sign_usage(self, device: Any, lease_id: int, machine_id: str, counter: int, read_at: int | None = None) -> SignedReport:
        """Sign a cumulative counter with the device key for this chain's MachineLease.

        `read_at` defaults to the latest block time (the contract refuses readings from the future; a device with its
        own clock passes its reading time)."""
        report = UsageReport(lease_id, machine_id, counter, self.now() if read_at is None else read_at)
        return sign_report(device, report, self.ctx.w3.eth.chain_id, self.address)

    # ---------------------------------------------------------------- transactions

    def offer(self, sender: TxSender, machine_id: str, tariff: Tariff) -> tuple[int, Receipt]:
        """Offer a machine the sender's org manufactured; returns the new lease id and the receipt."""
        rcpt = self.send(sender, "offer", to_bytes32(machine_id), tariff.to_chain())
        (log,) = self.receipt_logs("LeaseOffered", rcpt)
        return int(log["args"]["leaseId"]), rcpt

    def cancel_offer(self, sender: TxSender, lease_id: int) -> Receipt:
        return self.send(sender, "cancelOffer", lease_id)

    def accept(self, sender: TxSender, lease_id: int, deposit: int, opening: SignedReport) -> Receipt:
        """Approve the deposit, then accept with the device-signed opening reading."""
        self.token.approve(sender, self.address, deposit)
        return self.send(sender, "accept", lease_id, deposit, opening.report.to_chain(), opening.signature)

    def report_usage(self, sender: TxSender, signed: SignedReport) -> Receipt:
        return self.send(sender, "reportUsage", signed.report.to_chain(), signed.signature)

    def top_up(self, sender: TxSender, lease_id: int, amount: int) -> Receipt:
        """Approve `amount`, then add it to the deposit (settles unpaid usage first)."""
        self.token.approve(sender, self.address, amount)
        return self.send(sender, "topUp", lease_id, amount)

    def withdraw(self, sender: TxSender, lease_id: int) -> tuple[int, Receipt]:
        """Pull the owner's earnings; returns the amount withdrawn and the receipt."""
        rcpt = self.send(sender, "withdraw", lease_id)
        (log,) = self.receipt_logs("EarningsWithdrawn", rcpt)
        return int(log["args"]["amount"]), rcpt

    def close(self, sender: TxSender, lease_id: int, final: SignedReport) -> Receipt:
        return self.send(sender, "close", lease_id, final.report.to_chain(), final.signature)

    def claim_refund(self, sender: TxSender, lease_id: int) -> Receipt:
        return self.send(sender, "claimRefund", lease_id)
