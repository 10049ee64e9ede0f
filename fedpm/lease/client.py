"""Chain calls of the lease feature: thin wrappers over MachineLease and ConsortiumToken through TxSender.

Each function takes the web3 contract objects and the sender explicitly (no globals), so the CLI, the demo and
the tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3.logs import DISCARD

from chain.sender import Receipt, TxSender
from fedpm.lease.tariff import Balances, Tariff
from fedpm.lease.usage import SignedReport, UsageReport, sign_report
from ground.ids import from_bytes32, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "NotManufacturer": "only the machine's manufacturer org can offer it for lease",
    "NotLessee": "only the machine's operator org (the lessee) can do this",
    "NotLeaseOwner": "only the offering manufacturer org can withdraw earnings",
    "MachineLeased": "the machine already has an open lease; close or cancel it first (fedpm lease close)",
    "DepositTooLow": "deposit at least the tariff's minimum deposit (approve the tokens first)",
    "CounterRollback": "usage counters are cumulative: report a counter at least the last one",
    "StaleReading": "this reading (or an older one) was already reported; sign a fresh one",
    "FutureReading": "the reading time is ahead of the chain clock; check the device clock",
    "DisputeWindowOpen": "wait until the dispute window ends, then claim the refund (fedpm lease refund)",
    "NothingToWithdraw": "no new earnings on this lease yet",
    "WrongStatus": "the lease is not in a state that allows this (see fedpm lease invoice)",
    "ERC20InsufficientBalance": "not enough tokens: ask the governors to mint (fedpm lease mint, then approve and execute)",
    "NotRegistry": "tokens are minted by an executed Mint proposal only (fedpm lease mint, then consortium approve/execute)",
    "ERC20InsufficientAllowance": "approve the lease contract for the amount first",
}


STATUS = ("None", "Offered", "Active", "Paused", "Closing", "Closed", "Cancelled")


@dataclass(frozen=True)
class LeaseState(Balances):
    lease_id: int
    machine_id: str
    owner_org: str
    lessee_org: str
    status: str
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


def read_lease(lease: Any, lease_id: int) -> LeaseState:
    info = lease.functions.lease(lease_id).call()
    (machine, owner, lessee, status, tariff, started, closed, last_read, last_counter, deposited, charged, withdrawn, refunded, unpaid, *_) = info
    return LeaseState(lease_id, from_bytes32(machine), from_bytes32(owner), from_bytes32(lessee), STATUS[status], Tariff.from_chain(tariff),
                      started, closed, last_read, last_counter, deposited, charged, withdrawn, refunded, unpaid)


def sign_usage(lease: Any, device: Any, lease_id: int, machine_id: str, counter: int, read_at: int | None = None) -> SignedReport:
    """Sign a cumulative counter with the device key for this chain's MachineLease.

    `read_at` defaults to the latest block time (the contract refuses readings from the future; a device with its
    own clock passes its reading time)."""
    if read_at is None:
        read_at = int(lease.w3.eth.get_block("latest")["timestamp"])
    report = UsageReport(lease_id, machine_id, counter, read_at)
    return sign_report(device, report, lease.w3.eth.chain_id, lease.address)




def offer(lease: Any, sender: TxSender, machine_id: str, tariff: Tariff) -> tuple[int, Receipt]:
    rcpt = sender.transact(lease.functions.offer(to_bytes32(machine_id), tariff.to_chain()))
    (log,) = lease.events.LeaseOffered().process_receipt(rcpt.raw, errors=DISCARD)
    return int(log["args"]["leaseId"]), rcpt


def approve(token: Any, sender: TxSender, spender: str, amount: int) -> Receipt:
    return sender.transact(token.functions.approve(spender, amount))


def accept(lease: Any, token: Any, sender: TxSender, lease_id: int, deposit: int, opening: SignedReport) -> Receipt:
    approve(token, sender, lease.address, deposit)
    return sender.transact(lease.functions.accept(lease_id, deposit, opening.report.to_chain(), opening.signature))


def report_usage(lease: Any, sender: TxSender, signed: SignedReport) -> Receipt:
    return sender.transact(lease.functions.reportUsage(signed.report.to_chain(), signed.signature))


def top_up(lease: Any, token: Any, sender: TxSender, lease_id: int, amount: int) -> Receipt:
    approve(token, sender, lease.address, amount)
    return sender.transact(lease.functions.topUp(lease_id, amount))


def withdraw(lease: Any, sender: TxSender, lease_id: int) -> Receipt:
    return sender.transact(lease.functions.withdraw(lease_id))


def close(lease: Any, sender: TxSender, lease_id: int, final: SignedReport) -> Receipt:
    return sender.transact(lease.functions.close(lease_id, final.report.to_chain(), final.signature))


def claim_refund(lease: Any, sender: TxSender, lease_id: int) -> Receipt:
    return sender.transact(lease.functions.claimRefund(lease_id))
