"""The chain side of sensor batches: the SensorBatchRegistry client (anchoring signed batches, anchors as typed
values, checking stored batches and readings against the contract) and reconciling the gateway store with the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from chain.client import ContractClient
from chain.sender import Receipt, TxSender
from fedpm.sensors.signing import BatchHeader
from fedpm.sensors.store import GatewayStore, StoredBatch
from ground.ids import from_bytes32, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "BadDeviceSignature": "sign the batch with the machine's device key over this chain id and contract (fedpm gateway)",
    "ReplayedSeq": "this batch is already anchored; the gateway reconciles with the chain on restart",
    "SkippedSeq": "anchor the device's earlier batches first (fedpm gateway status)",
    "EmptyBatch": "a batch needs at least one reading and a non-zero Merkle root",
    "InconsistentBatch": "fromTime must be <= toTime and a one-reading batch has one timestamp",
}


@dataclass(frozen=True)
class Anchor:
    """An anchored batch: what the chain holds under (device, seq) (the contract's `Anchor` struct, also carried by
    its BatchAnchored event), and the transaction that put it there when known."""

    machine: str
    device: str
    seq: int
    from_time: int
    to_time: int
    count: int
    root: bytes
    submitter: str
    block_number: int
    tx_hash: str = ""

    @classmethod
    def of(cls, batch: StoredBatch) -> "Anchor":
        """The anchor the gateway store recorded for `batch` (only meaningful once anchored)."""
        return cls(batch.machine, batch.device, batch.seq, batch.from_time, batch.to_time, batch.count, batch.root, batch.submitter or "",
                   batch.block_number or 0, batch.tx_hash or "")

    def to_chain(self) -> tuple:
        return (to_bytes32(self.machine), self.device, self.seq, self.from_time, self.to_time, self.count, self.root, self.submitter, self.block_number)


class SensorBatchRegistry(ContractClient):
    """The SensorBatchRegistry contract of one deployment."""

    CONTRACT = "SensorBatchRegistry"

    def next_seq(self, device: str) -> int:
        return int(self.call("nextSeq", device))

    def anchor(self, sender: TxSender, batches: Sequence[StoredBatch]) -> Receipt:
        """Anchor signed batches in one transaction (in the given order)."""
        if len(batches) == 1:
            b = batches[0]
            return self.anchor_batch(sender, b.header, b.device, b.signature)
        return self.anchor_batches(sender, [b.header for b in batches], [b.device for b in batches], [b.signature for b in batches])

    def anchor_batch(self, sender: TxSender, header: BatchHeader, device: str, signature: bytes) -> Receipt:
        """Anchor one batch `device` signed."""
        return self.send(sender, "anchorBatch", header.to_chain(), device, signature)

    def anchor_batches(self, sender: TxSender, headers: Sequence[BatchHeader], devices: Sequence[str], signatures: Sequence[bytes]) -> Receipt:
        """Anchor several signed batches in one transaction: batch i signed by devices[i] with signatures[i]."""
        return self.send(sender, "anchorBatches", [h.to_chain() for h in headers], list(devices), list(signatures))

    def batch_digest(self, header: BatchHeader) -> bytes:
        """The EIP-712 digest the contract recovers the device from."""
        return bytes(self.call("batchDigest", header.to_chain()))

    def leaf_hash(self, reading: bytes) -> bytes:
        """The contract's Merkle leaf hash of one encoded reading."""
        return bytes(self.call("leafHash", reading))

    def find_anchor(self, device: str, seq: int) -> Anchor | None:
        """The (latest) BatchAnchored event of (device, seq), or None."""
        logs = self.logs("BatchAnchored", device=device, deviceSeq=seq)
        return _anchor(logs[-1]) if logs else None

    def anchors(self, machine: str) -> list[Anchor]:
        """Every batch anchored for `machine`, in chain order."""
        return [_anchor(log) for log in self.logs("BatchAnchored", machineId=to_bytes32(machine))]

    def is_anchored(self, anchor: Anchor) -> bool:
        """Whether the chain holds exactly `anchor` under its (device, seq)."""
        return bool(self.call("isAnchored", anchor.to_chain()))

    def verify_reading(self, anchor: Anchor, reading: bytes, index: int, siblings: Sequence[bytes]) -> bool:
        """The contract's check that `reading` sits at leaf `index` under the root of `anchor`, an anchor it holds."""
        return bool(self.call("verifyReading", anchor.to_chain(), reading, index, list(siblings)))


def _anchor(log: Any) -> Anchor:
    a = log["args"]
    return Anchor(from_bytes32(a["machineId"]), a["device"], a["deviceSeq"], a["fromTime"], a["toTime"], a["count"], bytes(a["merkleRoot"]),
                  a["submitter"], log["blockNumber"], log["transactionHash"].to_0x_hex())


def reconcile(store: GatewayStore, registry: SensorBatchRegistry, batches: Sequence[StoredBatch]) -> tuple[list[int], list[tuple[int, str]]]:
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
