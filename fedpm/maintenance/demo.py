"""A small maintenance history for the demo: a few records per machine, one correction, one by the maker."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from fedpm.consortium.client import ConsortiumRegistry
from fedpm.maintenance.client import MaintenanceLog, add_record
from fedpm.maintenance.records import Kind, Record, attachment_hash, correction_of
from fedpm.maintenance.store import RecordStore, record_store_path

BASE_TIME = 1_735_689_600  # 2025-01-01T00:00:00Z: fixed, so demo hashes are reproducible


def demo_records(machine: str, operator: str, maker: str, n: int) -> list[tuple[str, Record]]:
    """(author org, record) in the order they are written; record 4 corrects record 2."""
    t = BASE_TIME + n * 86_400
    inspection = Record(machine=machine, time=t, kind=Kind.INSPECTION, component="spindle", description="quarterly inspection: vibration 2.1 mm/s RMS",
                        technician_org=operator, technician=f"{operator}-tech-1")
    fault = Record(machine=machine, time=t + 3_600, kind=Kind.FAULT, component="spindle bearing", description="fault F-113: bearing temperature above 85 °C",
                   technician_org=operator, technician="plc")
    replacement = Record(machine=machine, time=t + 7_200, kind=Kind.PART_REPLACEMENT, component="spindle bearing",
                         description="replaced bearing SKF 6205 (lot 22-17)", technician_org=maker, technician=f"{maker}-service-3",
                         attachments=(attachment_hash(f"{machine}-photo-bearing.jpg".encode()),))
    fix = correction_of(fault, time=t + 10_800, description="fault F-113: bearing temperature above 95 °C (sensor log re-read)",
                        technician=f"{operator}-tech-1")
    return [(operator, inspection), (operator, fault), (maker, replacement), (operator, fix)]


def record_demo_history(consortium: Any, home: Path, machines: Iterable[str]) -> dict[str, Any]:
    """Write and anchor the demo records of `machines` in the record store under `home`; summarize per machine."""
    log = MaintenanceLog(consortium.ctx)
    registry = ConsortiumRegistry(consortium.ctx)
    summary: dict[str, Any] = {"machines": {}, "gas": []}
    with RecordStore(record_store_path(home), create=True) as store:
        for n, machine in enumerate(machines):
            m = registry.machine(machine)
            operator, maker = m.operator_org, m.manufacturer_org
            entries = []
            for org, record in demo_records(machine, operator, maker, n):
                result, _ = add_record(store, record, lambda: log, lambda org=org: consortium.sender(org))
                if result.error is not None:
                    raise result.error
                summary["gas"].append(result.gas_used)
                entries.append({"hash": result.record_hash, "kind": record.kind.label, "author": org, "tx": result.tx_hash,
                                "block": result.block, "corrects": record.corrects})
            summary["machines"][machine] = {"entries": entries, "head": log.head(machine)}
    return summary
