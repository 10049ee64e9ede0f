"""The chain side of sensor batches: anchoring signed batches, reconciling the store with the chain, anchors."""

from __future__ import annotations

from typing import Any, Sequence

from chain.events import events
from chain.sender import Receipt, TxSender
from fedpm.sensors.store import StoredBatch
from ground.ids import from_bytes32

CONTRACT = "SensorBatchRegistry"


def anchor_batches(sender: TxSender, contract: Any, batches: Sequence[StoredBatch]) -> Receipt:
    """Anchor signed batches in one transaction (in the given order)."""
    if len(batches) == 1:
        b = batches[0]
        return sender.transact(contract.functions.anchorBatch(b.header.to_chain(), b.device, b.signature))
    return sender.transact(contract.functions.anchorBatches([b.header.to_chain() for b in batches], [b.device for b in batches], [b.signature for b in batches]))


def find_anchor(contract: Any, device: str, seq: int, *, from_block: int = 0) -> dict | None:
    """The BatchAnchored event of (device, seq) as a dict with tx_hash, block_number, submitter, root; or None."""
    logs = events(contract.events.BatchAnchored, from_block=from_block, argument_filters={"device": device, "deviceSeq": seq})
    if not logs:
        return None
    log = logs[-1]
    a = log["args"]
    return {
        "machine": from_bytes32(a["machineId"]),
        "device": a["device"],
        "seq": a["deviceSeq"],
        "from_time": a["fromTime"],
        "to_time": a["toTime"],
        "count": a["count"],
        "root": bytes(a["merkleRoot"]),
        "submitter": a["submitter"],
        "tx_hash": log["transactionHash"].to_0x_hex(),
        "block_number": log["blockNumber"],
    }


def reconcile(store: Any, contract: Any, batches: Sequence[StoredBatch]) -> tuple[list[int], list[tuple[int, str]]]:
    """Mark signed batches the chain already holds as anchored (a crash after mining, before marking).

    Returns (ids marked anchored, [(id, reason)] that conflict with the chain: another root under that seq)."""
    marked, conflicts = [], []
    next_by_device: dict[str, int] = {}
    for b in batches:
        if b.device not in next_by_device:
            next_by_device[b.device] = contract.functions.nextSeq(b.device).call()
        if b.seq >= next_by_device[b.device]:
            continue
        found = find_anchor(contract, b.device, b.seq)
        if found and found["root"] == b.root and found["count"] == b.count and found["machine"] == b.machine:
            store.mark_anchored([(b.id, found["tx_hash"], found["block_number"], found["submitter"])])
            marked.append(b.id)
        else:
            reason = "seq anchored on chain with another root" if found else "seq anchored on chain but no event found"
            store.mark_failed(b.id, "conflict", reason)
            conflicts.append((b.id, reason))
    return marked, conflicts
