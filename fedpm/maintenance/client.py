"""Maintenance records meet the chain: the MaintenanceLog client (append hashes, read entries back as typed views),
and the submit workflow over the local record store (resubmit pending, audit).

The local record is always written before anything is sent, so a failure on chain never loses it: transient
failures (node unreachable, transaction not mined, a concurrent append moved the head) leave it `pending`
for the next `add` or `fedpm maintenance sync`; permanent refusals (unknown machine, author who may not
append, unknown correction target) mark it `rejected` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from chain.client import ContractClient
from chain.errors import ChainUnreachable, TransactionFailed
from chain.sender import Receipt, TxSender
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.maintenance.audit import ZERO_HASH, AuditReport, ChainEntry, audit_history
from fedpm.maintenance.records import Kind, Record
from fedpm.maintenance.store import PENDING, REJECTED, RecordStore, StoredRecord
from ground.errors import FedpmError
from ground.ids import from_bytes32, hex0x, to_bytes32
import chain.reverts as reverts

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "NotMachineParty": "only the machine's operator or manufacturer organization may append to its maintenance history",
    "DuplicateRecord": "this record is already on chain; a change is a new record with --corrects <hash>",
    "WrongPrevHash": "someone appended first; run `fedpm maintenance sync` to resubmit on the new head",
    "UnknownCorrection": "--corrects must name an earlier entry of the same machine (fedpm maintenance list)",
    "InvalidRecordHash": "the record hash must not be zero",
}


class MachineNotRegistered(FedpmError):
    """A machine id the consortium registry does not know (its history would read as empty)."""


TRANSIENT = (TransactionFailed, ChainUnreachable, reverts.WrongPrevHash, requests.exceptions.RequestException, OSError)


def _b32(h: str | None) -> bytes:
    return bytes.fromhex(h[2:]) if h else b"\0" * 32


@dataclass(frozen=True)
class EntryView:
    """What MaintenanceLog keeps under one record hash (its `Entry` struct)."""

    machine: str
    corrects: str | None
    author: str
    time: int
    kind: Kind


class MaintenanceLog(ContractClient):
    """Reads and writes of the MaintenanceLog contract for one chain context."""

    CONTRACT = "MaintenanceLog"

    def head(self, machine: str) -> str:
        return hex0x(self.call("head", to_bytes32(machine)))

    def count(self, machine: str) -> int:
        return int(self.call("entryCount", to_bytes32(machine)))

    def require_registered(self, machine: str) -> None:
        """Raises MachineNotRegistered unless the registry (the one MaintenanceLog asks) knows `machine`."""
        if ConsortiumRegistry(self.ctx).machine(machine) is None:
            raise MachineNotRegistered(f"machine {machine!r} is not registered", hint="check --machine; `fedpm machine list` shows the registered machines")

    def entry(self, machine_id: str, record_hash: str) -> EntryView | None:
        """The entry stored under `record_hash` for `machine_id`, or None (the contract's author is zero for an
        unknown hash: uniqueness is per machine)."""
        machine, corrects, author, time, kind = self.call("entry", to_bytes32(machine_id), _b32(record_hash))
        if int(author, 16) == 0:
            return None
        return EntryView(from_bytes32(machine), None if hex0x(corrects) == ZERO_HASH else hex0x(corrects), author, int(time), Kind(kind))

    def append(self, sender: TxSender, record: Record, *, prev_hash: str | None = None) -> tuple[Receipt, int]:
        """Append `record`'s hash after the current head (or `prev_hash`); returns the receipt and position."""
        prev = prev_hash if prev_hash is not None else self.head(record.machine)
        rcpt = self.send(sender, "append", to_bytes32(record.machine), _b32(record.hash), _b32(prev), _b32(record.corrects), int(record.kind), record.time)
        (log,) = self.receipt_logs("EntryAppended", rcpt)
        return rcpt, int(log["args"]["index"])

    def entries(self, machine: str) -> list[ChainEntry]:
        """The machine's entries in chain order, with the transaction and block that appended each."""
        out = [_entry(log) for log in self.logs("EntryAppended", machineId=to_bytes32(machine))]
        count = self.count(machine)
        if len(out) != count:
            raise FedpmError(f"read {len(out)} EntryAppended events for {machine} but the contract holds {count} entries",
                             hint="the node may prune logs; use an archive node")
        return sorted(out, key=lambda e: e.index)

    def find(self, machine: str, record_hash: str) -> ChainEntry | None:
        if self.entry(machine, record_hash) is None:
            return None
        for entry in self.entries(machine):
            if entry.record_hash == record_hash:
                return entry
        return None


def _entry(log: Any) -> ChainEntry:
    a = log["args"]
    corrects = hex0x(a["corrects"])
    return ChainEntry(index=int(a["index"]), record_hash=hex0x(a["recordHash"]), prev_hash=hex0x(a["prevHash"]),
                      corrects=None if corrects == ZERO_HASH else corrects, kind=Kind(a["kind"]), time=int(a["time"]),
                      author=a["author"], author_org=from_bytes32(a["authorOrg"]), tx_hash=log["transactionHash"].to_0x_hex(),
                      block=int(log["blockNumber"]))


@dataclass(frozen=True)
class SubmitResult:
    seq: int
    record_hash: str
    status: str  # anchored | pending | rejected
    tx_hash: str | None = None
    block: int | None = None
    index: int | None = None
    gas_used: int | None = None
    error: FedpmError | None = None


def submit(log: MaintenanceLog, store: RecordStore, sender: TxSender, row: StoredRecord, *, reject_unauthorized: bool = True) -> SubmitResult:
    """Send one stored record's hash; update its local state whatever happens."""
    record = row.record()
    try:
        rcpt, index = log.append(sender, record)
    except reverts.DuplicateRecord:
        found = log.find(record.machine, row.record_hash)  # it got there before (e.g. we crashed after sending)
        if found is not None and found.record_hash == record.hash:
            store.mark_anchored(row.seq, found.tx_hash, found.block, found.index)
            return SubmitResult(row.seq, row.record_hash, "anchored", found.tx_hash, found.block, found.index)
        raise
    except reverts.NotMachineParty as exc:
        if reject_unauthorized:
            store.mark_rejected(row.seq, str(exc))
            return SubmitResult(row.seq, row.record_hash, REJECTED, error=exc)
        store.mark_pending(row.seq, str(exc))
        return SubmitResult(row.seq, row.record_hash, PENDING, error=exc)
    except TRANSIENT as exc:
        err = exc if isinstance(exc, FedpmError) else TransactionFailed(f"chain unreachable: {exc.__class__.__name__}")
        store.mark_pending(row.seq, str(err))
        return SubmitResult(row.seq, row.record_hash, PENDING, error=err)
    except reverts.ContractRevert as exc:
        store.mark_rejected(row.seq, str(exc))
        return SubmitResult(row.seq, row.record_hash, REJECTED, error=exc)
    store.mark_anchored(row.seq, rcpt.tx_hash, rcpt.block_number, index)
    return SubmitResult(row.seq, row.record_hash, "anchored", rcpt.tx_hash, rcpt.block_number, index, rcpt.gas_used)


def sync_pending(log: MaintenanceLog, store: RecordStore, sender: TxSender, *, except_seq: int | None = None) -> list[SubmitResult]:
    """Resubmit every pending record in local order. Records this sender may not append for stay pending."""
    results = []
    for row in store.pending():
        if row.seq != except_seq:
            results.append(submit(log, store, sender, row, reject_unauthorized=False))
    return results


def add_record(store: RecordStore, record: Record, connect_log: Any, sender_for: Any) -> tuple[SubmitResult, list[SubmitResult]]:
    """Keep `record` locally, then anchor it (after resubmitting older pending records).

    `connect_log()` returns a MaintenanceLog client and `sender_for()` the TxSender; both are called only after the
    record is stored, so a node that is down costs nothing but a `pending` mark.
    """
    existing = store.by_hash(record.hash)
    if existing is not None and existing.status == REJECTED:
        store.mark_pending(existing.seq, "resubmitted")
        row = store.get(existing.seq)
    else:
        row = store.add(record)
    try:
        log, sender = connect_log(), sender_for()
    except (ChainUnreachable, TransactionFailed, requests.exceptions.RequestException, OSError) as exc:
        err = exc if isinstance(exc, FedpmError) else ChainUnreachable(str(exc))
        store.mark_pending(row.seq, str(err))
        return SubmitResult(row.seq, row.record_hash, PENDING, error=err), []
    earlier = sync_pending(log, store, sender, except_seq=row.seq)
    blocked = [r for r in earlier if r.status == PENDING and store.get(r.seq).machine == record.machine]
    if blocked:  # keep per-machine order: the new record waits behind an earlier one that is still pending
        err = TransactionFailed(f"{len(blocked)} earlier record(s) of {record.machine} are still pending: {blocked[0].error}",
                                hint="run `fedpm maintenance sync` once the chain accepts them")
        store.mark_pending(row.seq, str(err))
        return SubmitResult(row.seq, row.record_hash, PENDING, error=err), earlier
    return submit(log, store, sender, store.get(row.seq)), earlier


def audit_machine(log: MaintenanceLog, store: RecordStore, machine: str) -> AuditReport:
    """The audit of `machine`'s local records against its history on chain; an unknown machine is an error, not
    an empty history that would pass."""
    log.require_registered(machine)
    return audit_history(machine, store.local_entries(machine), log.entries(machine))
