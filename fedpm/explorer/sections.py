"""Sections of a machine's page: the explorer's extension point.

A section has a `key` (its JSON key under `sections` in `/api/machines/<id>` and its HTML id), a `title`,
`load(source, machine) -> dict` (JSON-able; `{"available": False, "message": ...}` when its contract is not
deployed) and `render(data) -> str` (escaped HTML, see `views.esc`). To add leases or federated learning
rounds later, write such a class and register it (leases are built in: `LeaseSection`):

    sections = default_sections()
    sections.register(WarrantySection())       # shown after the built-in sections
    start_explorer(settings, sections=sections)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from chain.connect import ChainContext
from chain.events import events
from fedpm.explorer import views
from fedpm.lease.invoice import InvoiceError, read_invoice, reconcile
from fedpm.lease.tariff import fmt_amount
from fedpm.lease.view import lease_rows
from fedpm.maintenance.audit import audit_history
from fedpm.maintenance.chain import CONTRACT, MaintenanceChain
from fedpm.maintenance.store import RecordStore, store_path
from fedpm.sensors.store import Store, default_store_path
from fedpm.settings import Settings
from ground.ids import from_bytes32, hex0x, to_bytes32


@dataclass(frozen=True)
class MachineInfo:
    id: str
    operator: str
    manufacturer: str
    metadata_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "operator": self.operator, "manufacturer": self.manufacturer, "metadata_hash": self.metadata_hash}


@dataclass
class Source:
    """What a section may read: the chain (one connection per request) and the local settings/home."""

    settings: Settings
    ctx: ChainContext

    def deployed(self, name: str) -> bool:
        return name in self.ctx.deployment.contracts and name in self.ctx.artifacts


class Section(Protocol):
    key: str
    title: str

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]: ...

    def render(self, data: dict[str, Any]) -> str: ...


class SectionRegistry:
    def __init__(self) -> None:
        self._sections: list[Section] = []

    def register(self, section: Section) -> None:
        if any(s.key == section.key for s in self._sections):
            raise ValueError(f"section {section.key!r} is already registered")
        self._sections.append(section)

    def __iter__(self) -> Iterator[Section]:
        return iter(self._sections)

    def renderers(self) -> list[tuple[str, str, Callable[[dict[str, Any]], str]]]:
        return [(s.key, s.title, s.render) for s in self._sections]


def unavailable(message: str) -> dict[str, Any]:
    return {"available": False, "message": message}


class MaintenanceSection:
    key = "maintenance"
    title = "Maintenance history"

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]:
        if not source.deployed(CONTRACT):
            return unavailable("no maintenance log deployed")
        chain_entries = MaintenanceChain(source.ctx).entries(machine.id)
        path = store_path(source.settings.home)
        local = []
        if path.exists():
            with RecordStore(path) as store:
                local = store.local_entries(machine.id)
        report = audit_history(machine.id, local, chain_entries)
        return {"available": True, **report.to_json()}

    def render(self, data: dict[str, Any]) -> str:
        return views.render_maintenance(data)


class SensorBatchSection:
    """Batches anchored by SensorBatchRegistry (event `BatchAnchored`), read generically from its ABI; and, when
    this home holds a gateway store, the machine's sequenced blocks that never reached the gateway (`reception`)."""

    key = "sensor_batches"
    title = "Anchored sensor batches"
    contract = "SensorBatchRegistry"
    event = "BatchAnchored"

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]:
        if not source.deployed(self.contract):
            return unavailable("no sensor registry deployed")
        contract = source.ctx.contract(self.contract)
        abi = next((i for i in contract.abi if i.get("type") == "event" and i.get("name") == self.event), None)
        if abi is None:
            return unavailable(f"{self.contract} has no {self.event} event")
        inputs = {i["name"]: i for i in abi["inputs"]}
        key = next((n for n in ("machineId", "machine") if n in inputs), None)
        filters = {key: to_bytes32(machine.id)} if key and inputs[key].get("indexed") and inputs[key]["type"] == "bytes32" else None
        from_block = int(source.ctx.deployment.contracts[self.contract].get("block", 0))
        logs = events(getattr(contract.events, self.event), from_block=from_block, argument_filters=filters, chunk=source.settings.chain.log_chunk_blocks)
        batches = []
        for log in logs:
            args = dict(log["args"])
            if key and from_bytes32(args.get(key, b"")) != machine.id:
                continue
            batches.append({"fields": {k: _show(v, inputs.get(k, {}).get("type", "")) for k, v in args.items()},
                            "tx_hash": log["transactionHash"].to_0x_hex(), "block": int(log["blockNumber"])})
        path = default_store_path(source.settings.home)
        reception = None
        if path.exists():
            store = Store(path)
            try:
                reception = store.reception(machine.id)
            finally:
                store.close()
        return {"available": True, "batches": batches, "reception": reception}

    def render(self, data: dict[str, Any]) -> str:
        return views.render_sensor_batches(data)


LEASE_CONTRACT = "MachineLease"


def load_leases(source: Source, machine_id: str | None = None) -> dict[str, Any]:
    """Every lease (or those of `machine_id`), each rebuilt from its events and reconciled with the contract's balances.

    A lease whose events do not make a statement shows as `{"leaseId", "error"}` instead of failing the page."""
    if not source.deployed(LEASE_CONTRACT):
        return unavailable("no MachineLease contract deployed")
    lease = source.ctx.contract(LEASE_CONTRACT)
    from_block = int(source.ctx.deployment.contracts[LEASE_CONTRACT].get("block", 0))
    if machine_id is None:
        ids = list(range(1, lease.functions.leaseCount().call() + 1))
    else:
        offers = events(lease.events.LeaseOffered, from_block=from_block, argument_filters={"machineId": to_bytes32(machine_id)},
                        chunk=source.settings.chain.log_chunk_blocks)
        ids = sorted({int(log["args"]["leaseId"]) for log in offers})
    out = []
    for lease_id in ids:
        try:
            inv = read_invoice(lease, lease_id, from_block=from_block)
        except InvoiceError as exc:
            out.append({"leaseId": lease_id, "error": exc.message})
            continue
        rec = reconcile(lease, inv)
        data = inv.to_json_dict()
        data["display"] = lease_rows([inv])[0]
        for line in data["lines"]:
            line["amount_display"] = fmt_amount(line["amount"])
        data["reconciled"] = rec.ok
        data["contract_held"] = rec.contract_held
        out.append(data)
    return {"available": True, "leases": out}


class LeaseSection:
    """The leases touching a machine (offered for it), with their on-chain statements."""

    key = "leases"
    title = "Leases"

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]:
        return load_leases(source, machine.id)

    def render(self, data: dict[str, Any]) -> str:
        return views.render_leases(data, show_machine=False)


def _show(value: Any, typ: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        if typ == "bytes32" and raw.rstrip(b"\0") and all(32 <= c < 127 for c in raw.rstrip(b"\0")) and raw.endswith(b"\0"):
            return from_bytes32(raw)  # a readable id (machine, org)
        return hex0x(raw)
    if isinstance(value, (list, tuple)):
        return [_show(v, typ.rstrip("[]")) for v in value]
    return value if isinstance(value, (int, str, bool)) or value is None else str(value)


def default_sections() -> SectionRegistry:
    sections = SectionRegistry()
    sections.register(MaintenanceSection())
    sections.register(SensorBatchSection())
    sections.register(LeaseSection())
    return sections
