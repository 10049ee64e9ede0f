"""The chain side of sensor data: the SensorBatchRegistry client (anchoring roots of roots, anchors as typed values,
checking batches and signed blocks against the contract) and the device bindings a gateway and a verifier read
from the ConsortiumRegistry."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from chain.client import ContractClient
from chain.eip712 import Domain
from chain.sender import Receipt, TxSender
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.sensors.anchoring import Anchor, AnchorRoot, BatchSummary
from fedpm.sensors.merkle import Proof
from fedpm.sensors.signing import domain

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "AlreadyAnchored": "this root is already anchored; the gateway reconciles with the chain on restart",
    "EmptyAnchor": "an anchor needs a non-zero root over at least one batch of at least one reading",
    "InconsistentAnchor": "fromTime must be <= toTime",
}


class SensorBatchRegistry(ContractClient):
    """The SensorBatchRegistry contract of one deployment."""

    CONTRACT = "SensorBatchRegistry"

    def signing_domain(self) -> Domain:
        """The EIP-712 domain devices sign blocks in for this deployment."""
        return domain(self.ctx.w3.eth.chain_id, self.address)

    def anchor_root(self, sender: TxSender, root: AnchorRoot) -> Receipt:
        """Anchor one root of roots."""
        return self.send(sender, "anchorRoot", root.to_chain())

    def anchor_hash(self, root: bytes) -> bytes:
        return bytes(self.call("anchorHash", root))

    def block_digest(self, block_hash: bytes) -> bytes:
        """The EIP-712 digest the contract recovers a block's device from."""
        return bytes(self.call("blockDigest", block_hash))

    def find_anchor(self, root: bytes) -> Anchor | None:
        """The RootAnchored event of `root` as an Anchor, or None."""
        logs = self.logs("RootAnchored", root=root)
        return _anchor(logs[-1]) if logs else None

    def anchors(self, submitter: str | None = None) -> list[Anchor]:
        """Every root anchored (by `submitter`), in chain order."""
        return [_anchor(log) for log in (self.logs("RootAnchored", submitter=submitter) if submitter else self.logs("RootAnchored"))]

    def is_anchored(self, anchor: Anchor) -> bool:
        """Whether the chain holds exactly `anchor` under its root."""
        return bool(self.call("isAnchored", anchor.to_chain()))

    def verify_batch(self, anchor: Anchor, summary: BatchSummary, proof: Proof) -> bool:
        """The contract's check that `summary` is leaf `proof.index` of the anchored `anchor`."""
        return bool(self.call("verifyBatch", anchor.to_chain(), _batch_proof(summary, proof)))

    def verify_block(self, anchor: Anchor, summary: BatchSummary, batch_proof: Proof, block: bytes, signature: bytes, block_proof: Proof) -> bool:
        """The contract's check of a signed block: its device's signature and binding, and both inclusion proofs."""
        return bool(self.call("verifyBlock", anchor.to_chain(), _batch_proof(summary, batch_proof),
                              (block, signature, block_proof.index, list(block_proof.siblings))))


def _batch_proof(summary: BatchSummary, proof: Proof) -> tuple:
    return (summary.to_chain(), proof.index, list(proof.siblings))


def _anchor(log: Any) -> Anchor:
    a = log["args"]
    return Anchor(bytes(a["root"]), a["batches"], a["readings"], a["fromTime"], a["toTime"], a["submitter"], log["blockNumber"],
                  log["transactionHash"].to_0x_hex())


@dataclass(frozen=True)
class Binding:
    """What the chain says of a device key (the registry's `deviceKey`): the machine it is bound to (None: never bound),
    whether it signs for it now, and its window of reading times [valid_from, valid_until) in seconds (valid_until 0:
    open-ended; a rotation ends the old key's window where the new key's starts) and whether it was revoked."""

    device: str
    machine: str | None
    active: bool
    valid_from: int = 0
    valid_until: int = 0
    revoked: bool = False

    def signs_for(self, from_ms: int, to_ms: int) -> bool:
        """Whether readings stamped from_ms..to_ms (epoch ms) all lie in the key's window (the registry's
        `requireDeviceAt` at each reading's second): a rotated-out key signs only readings before its rotation point,
        a key rotated in only readings from it."""
        return self.valid_from <= from_ms // 1000 and (self.valid_until == 0 or to_ms // 1000 < self.valid_until)

    def allows(self, machine: str, from_ms: int, to_ms: int) -> bool:
        """Whether a block of `machine` with readings stamped from_ms..to_ms, signed by this key, is taken now."""
        return self.machine == machine and not self.revoked and self.signs_for(from_ms, to_ms)

    def refusal(self, machine: str, from_ms: int | None = None, to_ms: int | None = None) -> str:
        if self.machine is None:
            return f"device {self.device} is not bound to any machine"
        if self.machine != machine:
            return f"device {self.device} is bound to {self.machine}, not {machine}"
        if not self.revoked and from_ms is not None and to_ms is not None and not self.signs_for(from_ms, to_ms):
            until = f"{self.valid_until}" if self.valid_until else "on"
            return f"device {self.device} of {machine} signs readings stamped {self.valid_from}..{until} s (epoch), not {from_ms // 1000}..{to_ms // 1000}"
        return f"device {self.device} of {machine} is revoked"

    def spoils(self, machine: str, from_ms: int, to_ms: int, revoked_before: Callable[[], bool]) -> str | None:
        """Why data of `machine` stamped from_ms..to_ms and anchored already does not count for this key, or None:
        another machine's key, readings outside its window, or a revocation before the anchor (`revoked_before`, asked
        only of a key that does not sign now; data anchored before a revocation still counts)."""
        if self.machine != machine or not self.signs_for(from_ms, to_ms):
            return self.refusal(machine, from_ms, to_ms)
        if not self.active and revoked_before():
            return self.refusal(machine)
        return None


class DeviceBindings:
    """Device -> machine bindings read from the ConsortiumRegistry, cached per device for `ttl_s` seconds, so a
    gateway asks the chain about a device once per `ttl_s` (a revocation or rotation takes effect within that time)."""

    def __init__(self, registry: ConsortiumRegistry, ttl_s: float = 30.0, clock=time.monotonic) -> None:
        self.registry = registry
        self.ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Binding]] = {}
        self._lock = threading.Lock()

    def binding(self, device: str) -> Binding:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(device)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        view = self.registry.device(device)
        found = (Binding(device, view.machine_id, view.active, view.valid_from, view.valid_until, view.revoked) if view is not None
                 else Binding(device, None, False))
        with self._lock:
            self._cache[device] = (now, found)
        return found

    def revoked_before(self, device: str, block: int) -> bool:
        """Whether `device`'s binding was revoked in or before `block` (data anchored after that does not count)."""
        return any(log["blockNumber"] <= block for log in self.registry.logs("DeviceRevoked", device=device))

