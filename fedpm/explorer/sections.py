"""Sections of a machine's page: the explorer's extension point.

A section has a `key` (its JSON key under `sections` in `/api/machines/<id>` and its HTML id), a `title`,
`load(source, machine) -> dict` (JSON-able; `{"available": False, "message": ...}` when its contract is not
deployed) and `render(data) -> str` (escaped HTML, see `pages.esc`). To add leases or federated learning
rounds later, write such a class and register it (leases are built in: `LeaseSection`):

    sections = default_sections()
    sections.register(WarrantySection())       # shown after the built-in sections
    start_explorer(settings, sections=sections)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from chain.connect import ChainContext
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.consortium.devices import key_records
from fedpm.explorer import devices, pages
from fedpm.lease.client import MachineLease
from fedpm.lease.invoice import Invoice, InvoiceError
from fedpm.lease.tariff import UNIT_SCALE, fmt_amount
from fedpm.maintenance.audit import audit_history
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.parts.build import make_passport
from fedpm.parts.client import PartRegistry, PassportChain
from fedpm.parts.passport import verify_passport
from fedpm.parts.store import PartStore, part_store_path
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.store import GatewayStore, gateway_store_path
from fedpm.sensors.verify import Checker, check_batches
from fedpm.settings import Settings
from ground.ids import hex0x


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
        if not source.deployed(MaintenanceLog.CONTRACT):
            return unavailable("no maintenance log deployed")
        chain_entries = MaintenanceLog(source.ctx).entries(machine.id)
        path = record_store_path(source.settings.home)
        local = []
        if path.exists():
            with RecordStore(path) as store:
                local = store.local_entries(machine.id)
        report = audit_history(machine.id, local, chain_entries)
        return {"available": True, **report.to_json()}

    def render(self, data: dict[str, Any]) -> str:
        return pages.render_maintenance(data)


class DeviceKeySection:
    """The machine's device keys from the registry: each with its window, who bound and revoked it (events), the
    lease lock and a change waiting for the lessee."""

    key = "device_keys"
    title = "Device keys"

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]:
        reg = ConsortiumRegistry(source.ctx)
        now = reg.now()
        records = key_records(reg.device_keys(machine.id), reg.device_history(machine.id))
        lock, waiting = reg.device_lock(machine.id), reg.pending_device_change(machine.id)
        return {"available": True, "now": now, "keys": [r.to_json(now) for r in records], "names": reg.account_orgs(),
                "lock": None if lock is None else {"holder": lock.holder, "lesseeOrg": lock.lessee_org},
                "waiting": None if waiting is None else {"change": waiting.describe(), "hash": hex0x(waiting.change_hash),
                                                         "requestedBy": waiting.requested_by}}

    def render(self, data: dict[str, Any]) -> str:
        return devices.render_device_keys(data)


class SensorBatchSection:
    """The machine's device-signed batches in this home's gateway store, each verified (signatures, root, binding,
    anchor on chain; a (device, seq) in two batches fails as replayed), and the device seqs that never reached the
    gateway (`reception`). The chain holds only roots of roots, so batches are shown from the store that can prove them."""

    key = "sensor_batches"
    title = "Signed sensor batches"
    LIMIT = 100  # the latest batches shown (and checked together)

    def load(self, source: Source, machine: MachineInfo) -> dict[str, Any]:
        if not source.deployed(SensorBatchRegistry.CONTRACT):
            return unavailable("no sensor registry deployed")
        path = gateway_store_path(source.settings.home)
        if not path.exists():
            return {"available": True, "batches": [], "reception": None, "note": "No gateway store in this home: batches are proven from the store of the gateway that anchored them."}
        store = GatewayStore(path)
        try:
            batches = sorted(store.batches(machine=machine.id), key=lambda b: b.id)[-self.LIMIT:]
            checker = Checker.of(SensorBatchRegistry(source.ctx), DeviceBindings(ConsortiumRegistry(source.ctx)))
            rows = []
            for b, c in zip(batches, check_batches(store, batches, checker)):
                anchor = store.anchor(b.anchor_id) if b.anchor_id is not None else None
                rows.append({**b.summary.to_json(), "status": c.status, "detail": c.detail,
                             "anchor": anchor.anchor.to_json() if anchor is not None and anchor.status == "anchored" else None})
            return {"available": True, "batches": rows, "reception": store.reception(machine.id)}
        finally:
            store.close()

    def render(self, data: dict[str, Any]) -> str:
        return pages.render_sensor_batches(data)


def part_passport(source: Source, part: str) -> dict[str, Any] | None:
    """A part's record (from this home's part store), its passport built from this home's gateway store, and the
    passport's verification against the chain; without a local record, what the chain says about the part; None when
    the chain has no such part."""
    recorded = PartRegistry(source.ctx).recorded(part)
    if not recorded:
        return None
    parts_path, gateway_path = part_store_path(source.settings.home), gateway_store_path(source.settings.home)
    stored = None
    if parts_path.exists():
        with PartStore(parts_path) as store:
            stored = store.get(part)
    if stored is None or not gateway_path.exists():
        return {"part": part, "record": None, "recorded": recorded, "check": None,
                "message": "This home keeps no record of the part: verify the passport its customer holds with `fedpm part verify --passport FILE`."}
    chain = PassportChain(source.ctx)
    gateway = GatewayStore(gateway_path)
    try:
        checker = Checker(chain.sensors, chain.bindings, chain.domain)
        passport = make_passport(stored.record, gateway, checker, chain.parts)
    finally:
        gateway.close()
    return {"part": part, "record": stored.record.to_json(), "record_hash": stored.record.hash, "recorded": recorded[-1],
            "check": verify_passport(passport, chain).to_json()}


def lease_display(inv: Invoice) -> dict[str, object]:
    """One row of display values of the lease table (pure)."""
    t = inv.tariff
    return {"lease": inv.lease_id, "machine": inv.machine_id, "owner": inv.owner_org, "lessee": inv.lessee_org or "-",
            "status": inv.status_name, "tariff": f"{fmt_amount(t.unit_price)} {t.currency}/{t.unit.json_name}" if t else "-",
            "usage": f"{inv.usage / UNIT_SCALE:g}", "deposited": fmt_amount(inv.deposited), "charged": fmt_amount(inv.charged),
            "unpaid": fmt_amount(inv.unpaid), "withdrawn": fmt_amount(inv.withdrawn), "refunded": fmt_amount(inv.refunded),
            "held": fmt_amount(inv.held)}


def load_leases(source: Source, machine_id: str | None = None) -> dict[str, Any]:
    """Every lease (or those of `machine_id`), each rebuilt from its events and reconciled with the contract's balances.

    A lease whose events do not make a statement shows as `{"leaseId", "error"}` instead of failing the page."""
    if not source.deployed(MachineLease.CONTRACT):
        return unavailable("no MachineLease contract deployed")
    lease = MachineLease(source.ctx)
    out = []
    for lease_id in lease.lease_ids(machine_id):
        try:
            inv = lease.invoice(lease_id)
        except InvoiceError as exc:
            out.append({"leaseId": lease_id, "error": exc.message})
            continue
        rec = lease.reconcile(inv)
        data = inv.to_json_dict()
        data["display"] = lease_display(inv)
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
        return pages.render_leases(data, show_machine=False)


def default_sections() -> SectionRegistry:
    from fedpm.explorer.health import HealthSection

    sections = SectionRegistry()
    sections.register(HealthSection())
    sections.register(MaintenanceSection())
    sections.register(DeviceKeySection())
    sections.register(SensorBatchSection())
    sections.register(LeaseSection())
    return sections
