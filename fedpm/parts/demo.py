"""Parts for the demo: the simulated machine's production split into parts, each recorded from the device-signed
batches covering it and the audited maintenance state, and one passport built and verified against the chain."""

from __future__ import annotations

from typing import Any

from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.parts.build import make_passport, make_record
from fedpm.parts.client import PassportChain
from fedpm.parts.passport import format_check, verify_passport
from fedpm.parts.store import PartStore, part_store_path
from fedpm.sensors.store import GatewayStore, gateway_store_path
from fedpm.sensors.verify import Checker
from fedpm.settings import Settings


def record_demo_parts(consortium: Any, settings: Settings, machine: str, parts: int = 3, step: str = "milling") -> dict[str, Any]:
    """Split `machine`'s anchored sensor data in `settings.home`'s gateway store into `parts` production spans, record
    each part (its operator anchors the record hash) and verify the first part's passport. Returns a summary."""
    chain = PassportChain(consortium.ctx)
    checker = Checker(chain.sensors, chain.bindings, chain.domain)
    operator = consortium.registry.machine(machine).operator_org
    gateway = GatewayStore(gateway_store_path(settings.home))
    try:
        batches = list(gateway.batches(machine=machine, status="anchored"))
        t0, t1 = min(b.from_time for b in batches), max(b.to_time for b in batches)
        span = max(1, (t1 - t0 + 1) // parts)
        out = []
        with PartStore(part_store_path(settings.home), create=True) as store, RecordStore(record_store_path(settings.home)) as records:
            for k in range(parts):
                start, end = t0 + k * span, (t1 if k == parts - 1 else t0 + (k + 1) * span - 1)
                record = make_record(f"{machine}-part-{k + 1}", machine, step, start, end, gateway, checker, MaintenanceLog(consortium.ctx), records)
                store.add(record)
                rcpt = chain.parts.record_part(consortium.sender(operator), record.part, machine, record.hash)
                store.mark_anchored(record.part, rcpt.tx_hash, rcpt.block_number)
                out.append({"part": record.part, "record_hash": record.hash, "batches": len(record.batches),
                            "readings": sum(b.summary.readings for b in record.batches), "tx": rcpt.tx_hash, "gas": rcpt.gas_used})
            passport = make_passport(store.get(out[0]["part"]).record, gateway, checker, chain.parts)
        check = verify_passport(passport, chain)
    finally:
        gateway.close()
    return {"machine": machine, "parts": out, "passport": passport, "check": check.to_json(), "report": format_check(check)}
