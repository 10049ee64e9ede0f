"""The chain side of sensor batches: the SensorBatchRegistry client (anchoring signed batches, anchors as typed
views) and reconciling the store with the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from chain.client import ContractClient
from chain.events import events
from chain.sender import Receipt, TxSender
from fedpm.sensors.store import StoredBatch
from ground.ids import from_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "BadDeviceSignature": "sign the batch with the machine's device key over this chain id and contract (fedpm gateway)",
    "ReplayedSeq": "this batch is already anchored; the gateway reconciles with the chain on restart",
    "SkippedSeq": "anchor the device's earlier batches first (fedpm gateway status)",
    "EmptyBatch": "a batch needs at least one reading and a non-zero Merkle root",
    "InconsistentBatch": "fromTime must be <= toTime and a one-reading batch has one timestamp",
}


CONTRACT = "SensorBatchRegistry"


@dataclass(frozen=True)
class Anchor:
    """A BatchAnchored event: which batch the chain holds under (device, seq), and the transaction that put it there."""

    machine: str
    device: str
    seq: int
    from_time: int
    to_time: int
    count: int
    root: bytes
    submitter: str
    tx_hash: str
    block_number: int


class SensorBatchRegistry(ContractClient):
    """The SensorBatchRegistry contract of one deployment."""

    CONTRACT = CONTRACT

    def next_seq(self, device: str) -> int:
        return int(self.call("nextSeq", device))

    def anchor(self, sender: TxSender, batches: Sequence[StoredBatch]) -> Receipt:
        """Anchor signed batches in one transaction (in the given order)."""
        if len(batches) == 1:
            b = batches[0]
            return self.send(sender, "anchorBatch", b.header.to_chain(), b.device, b.signature)
        return self.send(sender, "anchorBatches", [b.header.to_chain() for b in batches], [b.device for b in batches], [b.signature for b in batches])

    def find_anchor(self, device: str, seq: int, *, from_block: int = 0) -> Anchor | None:
        """The (latest) BatchAnchored event of (device, seq), or None."""
        logs = events(self.contract.events.BatchAnchored, from_block=from_block, argument_filters={"device": device, "deviceSeq": seq})
        if not logs:
            return None
        log = logs[-1]
        a = log["args"]
        return Anchor(from_bytes32(a["machineId"]), a["device"], a["deviceSeq"], a["fromTime"], a["toTime"], a["count"], bytes(a["merkleRoot"]),
                      a["submitter"], log["transactionHash"].to_0x_hex(), log["blockNumber"])


def reconcile(store: Any, registry: SensorBatchRegistry, batches: Sequence[StoredBatch]) -> tuple[list[int], list[tuple[int, str]]]:
    """Mark signed batches the chain already holds as anchored (a crash after mining, before marking).

    Returns (ids marked anchored, [(id, reason)] that conflict with the chain: another root under that seq)."""
    marked, conflicts = [], []
    next_by_device: dict[str, int] = {}
    for b in batches:
        if b.device not in next_by_device:
            next_by_device[b.device] = registry.next_seq(b.device)
        if b.seq >= next_by_device[b.device]:
            continue
        found = registry.find_anchor(b.device, b.seq)
        if found and found.root == b.root and found.count == b.count and found.machine == b.machine:
            store.mark_anchored([(b.id, found.tx_hash, found.block_number, found.submitter)])
            marked.append(b.id)
        else:
            reason = "seq anchored on chain with another root" if found else "seq anchored on chain but no event found"
            store.mark_failed(b.id, "conflict", reason)
            conflicts.append((b.id, reason))
    return marked, conflicts
