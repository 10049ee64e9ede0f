"""Demo hook: device identity on the bootstrapped consortium.

`run_device_demo(consortium)` shows, per machine, the device key its manufacturer provisioned (bound by the maker at
bootstrap), has the maker attest each key (EIP-712) and checks every attestation against the registry; then an
operator tries to bind a key of its own to its machine and is refused (NotManufacturer). Returns a JSON-able summary;
`format_device_demo` prints it.
"""

from __future__ import annotations

from typing import Any

from chain.reverts import ContractRevert
from fedpm.consortium.attestation import attest
from fedpm.consortium.devices import key_records


def run_device_demo(consortium: Any, maker: str = "maker") -> dict[str, Any]:
    reg = consortium.registry
    chain_id, orgs = consortium.ctx.w3.eth.chain_id, reg.account_orgs()
    machines = {}
    for machine_id, device in sorted(consortium.devices.items()):
        (record,) = [r for r in key_records(reg.device_keys(machine_id), reg.device_history(machine_id)) if r.key.device == device.address]
        check = reg.check_attestation(attest(consortium.accounts[maker], device.address, machine_id, chain_id, reg.address))
        machines[machine_id] = {"device": device.address, "status": record.key.status(reg.now()), "boundBy": orgs.get(record.bound.by, record.bound.by),
                                "attested": check.ok, "attestedBy": check.signer_org}
    operator = next(iter(consortium.machines))
    machine_id = consortium.machines[operator]
    rogue = consortium.ctx.w3.eth.account.create()  # a software key the operator made itself
    try:
        reg.register_device(consortium.sender(operator), rogue.address, machine_id)
        refused = None
    except ContractRevert as exc:
        refused = exc.error_name
    return {"machines": machines, "operatorBind": {"operator": operator, "machine": machine_id, "refused": refused}}


def format_device_demo(summary: dict[str, Any]) -> str:
    lines = [f"{m}: key {d['device']} {d['status']}, bound by {d['boundBy']}, attestation {'holds' if d['attested'] else 'FAILS'} ({d['attestedBy']})"
             for m, d in summary["machines"].items()]
    b = summary["operatorBind"]
    lines.append(f"{b['operator']} binding a key of its own to {b['machine']}: " + (f"refused ({b['refused']})" if b["refused"] else "ACCEPTED"))
    return "\n".join(lines)
