"""The PartRegistry client, and the chain views a passport check reads (parts, anchors, bindings, maintenance, models)."""

from __future__ import annotations

from typing import Any

from chain.client import ContractClient
from chain.connect import ChainContext
from chain.sender import Receipt, TxSender
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.maintenance.audit import ChainEntry
from fedpm.maintenance.client import MaintenanceLog
from fedpm.parts.passport import PartView
from fedpm.sensors.anchoring import Anchor
from fedpm.sensors.client import Binding, DeviceBindings, SensorBatchRegistry
from fl_node.rounds import FederatedLearning, RoundState
from ground.ids import from_bytes32, hex0x, to_bytes32

# What to do about this feature's contract reverts (handed to `chain.connect.connect(..., hints=...)`).
REVERT_HINTS: dict[str, str] = {
    "PartExists": "a part id is recorded once; give the new part its own id",
    "NotPartRecorder": "only the organization operating the machine records its parts (fedpm machine list)",
    "InvalidPart": "the part id and the record hash must not be empty",
}


class PartRegistry(ContractClient):
    """The PartRegistry contract of one deployment."""

    CONTRACT = "PartRegistry"

    def record_part(self, sender: TxSender, part: str, machine: str, record_hash: str) -> Receipt:
        return self.send(sender, "recordPart", to_bytes32(part), to_bytes32(machine), bytes.fromhex(record_hash[2:]))

    def part(self, part: str) -> PartView | None:
        machine, record_hash, recorder, time = self.call("part", to_bytes32(part))
        if int(recorder, 16) == 0:
            return None
        return PartView(part, from_bytes32(machine), hex0x(record_hash), recorder, int(time))

    def recorded(self, part: str | None = None) -> list[dict[str, Any]]:
        """PartRecorded events (of `part`), in chain order: part, machine, record hash, recorder, org, tx, block."""
        logs = self.logs("PartRecorded", partId=to_bytes32(part)) if part else self.logs("PartRecorded")
        return [{"part": from_bytes32(log["args"]["partId"]), "machine": from_bytes32(log["args"]["machineId"]), "record_hash": hex0x(log["args"]["recordHash"]),
                 "recorder": log["args"]["recorder"], "org": from_bytes32(log["args"]["operatorOrg"]), "tx": log["transactionHash"].to_0x_hex(),
                 "block": int(log["blockNumber"])} for log in logs]


class PassportChain:
    """`fedpm.parts.passport.ChainViews` over a chain context (contracts not deployed read as empty)."""

    def __init__(self, ctx: ChainContext, bindings: DeviceBindings | None = None) -> None:
        self.ctx = ctx
        self.parts = PartRegistry(ctx)
        self.sensors = SensorBatchRegistry(ctx)
        self.bindings = bindings or DeviceBindings(ConsortiumRegistry(ctx), ttl_s=0)
        self.domain = self.sensors.signing_domain()

    def part(self, part: str) -> PartView | None:
        return self.parts.part(part)

    def is_anchored(self, anchor: Anchor) -> bool:
        return self.sensors.is_anchored(anchor)

    def binding(self, device: str) -> Binding:
        return self.bindings.binding(device)

    def revoked_before(self, device: str, block: int) -> bool:
        return self.bindings.revoked_before(device, block)

    def maintenance_entries(self, machine: str) -> list[ChainEntry]:
        return MaintenanceLog(self.ctx).entries(machine)

    def model_hash(self, task: int, round_number: int) -> str | None:
        fl = FederatedLearning(self.ctx)
        if task >= fl.task_count() or not 1 <= round_number <= fl.task(task).rounds_started:
            return None
        view = fl.round(task, round_number)
        return hex0x(view.result_hash) if view.state == RoundState.FINALIZED else None
