"""`fedpm device register|rotate|revoke|approve|list|show|attest|verify-attestation`: a machine's device keys,
provisioned by its manufacturer; while a lease locks the machine a change waits for the lessee's `approve`.

Devices are named by address or keystore name, machines and orgs by their ids (e.g. factory-1-m1, maker).
`fedpm device run` (the device itself, signing blocks at the source) is added to this group by fedpm/cli/sensors.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, pass_app
from ground.errors import FedpmError


def _registry(app: App):  # noqa: ANN202 - ConsortiumRegistry
    from fedpm.consortium.client import ConsortiumRegistry

    return ConsortiumRegistry(app.ctx)


def _machine(reg, machine_id: str):  # noqa: ANN001, ANN202 - MachineView
    machine = reg.machine(machine_id)
    if machine is None:
        raise FedpmError(f"machine {machine_id!r} is not registered", hint="see `fedpm machine list`; its operator registers it with `fedpm machine register`")
    return machine


def _org_namer(reg):  # noqa: ANN001, ANN202 - callable: account -> org id (or the account)
    owners = reg.account_orgs()
    return lambda account: owners.get(account, account or "-")


def _report(outcome, done: str) -> None:  # noqa: ANN001 - DeviceChangeOutcome
    """What a change did: applied, or waiting for the lessee (and how it approves)."""
    if outcome.pending is None:
        click.echo(done)
        return
    p = outcome.pending
    click.echo(f"requested: {p.describe()} on {p.machine_id} waits for the lessee's approval (the machine is leased)\n"
               f"  the lessee approves with: fedpm device approve --as <lessee account> --machine {p.machine_id} --hash 0x{p.change_hash.hex()}")


@click.group()
def device() -> None:
    """Device signing keys of machines, provisioned by each machine's manufacturer."""


@device.command("register")
@as_option
@click.argument("device_key", metavar="DEVICE")
@click.option("--machine", "machine_id", required=True, help="machine id")
@click.option("--attestation-out", type=click.Path(dir_okay=False, path_type=Path), help="also write the manufacturer's attestation of the key here")
@pass_app
def device_register(app: App, as_: str, device_key: str, machine_id: str, attestation_out: Path | None) -> None:
    """Bind DEVICE (an address or a keystore name) to a machine your org manufactured."""
    reg = _registry(app)
    _machine(reg, machine_id)
    address = app.address_of(device_key)
    sender = app.ctx.sender_for(as_)
    outcome = reg.register_device(sender, address, machine_id)
    _report(outcome, f"device {address} bound to {machine_id}, signing for readings from {reg.device(address).valid_from if outcome.pending is None else '-'}")
    if attestation_out is not None:
        _write_attestation(app, as_, address, machine_id, attestation_out)


@device.command("rotate")
@as_option
@click.argument("new_device", metavar="NEW_DEVICE")
@click.option("--machine", "machine_id", required=True, help="machine id")
@click.option("--at", "at", type=int, default=0, help="unix seconds of the rotation point (default: now, or when the lessee approves)")
@pass_app
def device_rotate(app: App, as_: str, new_device: str, machine_id: str, at: int) -> None:
    """Replace the machine's key by NEW_DEVICE: the old key signs readings stamped before the rotation point, the new one from it."""
    reg = _registry(app)
    _machine(reg, machine_id)
    address = app.address_of(new_device)
    outcome = reg.rotate_device(app.ctx.sender_for(as_), machine_id, address, at)
    point = reg.device(address).valid_from if outcome.pending is None else at
    _report(outcome, f"{machine_id}: device {address} signs for readings from {point}; the previous key for readings before it")


@device.command("revoke")
@as_option
@click.argument("device_key", metavar="DEVICE")
@pass_app
def device_revoke(app: App, as_: str, device_key: str) -> None:
    """Revoke DEVICE (address or keystore name): none of its signatures count any more."""
    address = app.address_of(device_key)
    _report(_registry(app).revoke_device(app.ctx.sender_for(as_), address), f"device {address} revoked")


@device.command("approve")
@as_option
@click.option("--machine", "machine_id", required=True, help="machine id")
@click.option("--hash", "change_hash", help="the waiting change's hash, as printed by the request (default: the one waiting now)")
@pass_app
def device_approve(app: App, as_: str, machine_id: str, change_hash: str | None) -> None:
    """As the lessee of the lease that locks the machine, approve the device key change waiting for you."""
    reg = _registry(app)
    waiting = reg.pending_device_change(machine_id)
    if waiting is None:
        raise FedpmError(f"no device key change waits for {machine_id}", hint="the manufacturer requests one with fedpm device register|rotate|revoke")
    if change_hash is not None and change_hash.lower().removeprefix("0x") != waiting.change_hash.hex():
        raise FedpmError(f"the change waiting for {machine_id} is 0x{waiting.change_hash.hex()} ({waiting.describe()}), not {change_hash}",
                         hint="check it with `fedpm device list --machine` and approve that hash")
    reg.approve_device_change(app.ctx.sender_for(as_), machine_id, waiting.change_hash)
    click.echo(f"approved and applied on {machine_id}: {waiting.describe()}")


@device.command("list")
@click.option("--machine", "machine_id", help="only this machine (default: every machine)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def device_list(app: App, machine_id: str | None, as_json: bool) -> None:
    """Every machine's device keys: status, validity window, who bound them; and changes waiting for a lessee."""
    from fedpm.consortium.devices import format_devices, key_records

    reg = _registry(app)
    machines = [_machine(reg, machine_id)] if machine_id else reg.machines()
    now, namer = reg.now(), _org_namer(reg)
    records, waiting = [], []
    for m in machines:
        records += key_records(reg.device_keys(m.machine_id), reg.device_history(m.machine_id))
        if (p := reg.pending_device_change(m.machine_id)) is not None:
            waiting.append(p)
    if as_json:
        echo_json({"keys": [r.to_json(now) for r in records],
                   "waiting": [{"machineId": p.machine_id, "change": p.describe(), "hash": "0x" + p.change_hash.hex(), "requestedBy": namer(p.requested_by)} for p in waiting]})
        return
    click.echo(format_devices(records, now, namer))
    for p in waiting:
        click.echo(f"waiting on {p.machine_id}: {p.describe()} (requested by {namer(p.requested_by)}, hash 0x{p.change_hash.hex()})")


@device.command("show")
@click.argument("device_key", metavar="DEVICE")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def device_show(app: App, device_key: str, as_json: bool) -> None:
    """One device key: its machine, status, validity window and history (address or keystore name)."""
    from fedpm.consortium.devices import key_records

    reg = _registry(app)
    address = app.address_of(device_key)
    view = reg.device(address)
    if view is None:
        raise FedpmError(f"device {address} was never bound to a machine", hint="see `fedpm device list`; the manufacturer binds it with `fedpm device register`")
    (record,) = [r for r in key_records(reg.device_keys(view.machine_id), reg.device_history(view.machine_id)) if r.key.device == address]
    now, namer = reg.now(), _org_namer(reg)
    if as_json:
        echo_json(record.to_json(now))
        return
    click.echo(f"device {address}\n  machine      {view.machine_id}\n  status       {view.status(now)}\n"
               f"  valid from   {view.valid_from}\n  valid until  {view.valid_until or '-'}")
    for label, step in (("bound by", record.bound), ("revoked by", record.revoked)):
        if step is not None:
            approved = f", approved by {namer(step.approved_by)}" if step.approved_by else ""
            click.echo(f"  {label:<12} {namer(step.by)}{approved} (block {step.block}, tx {step.tx})")


def _write_attestation(app: App, as_: str, device_address: str, machine_id: str, out: Path | None) -> None:
    from fedpm.consortium.attestation import attest

    att = attest(app.ctx.keystore.load(as_), device_address, machine_id, app.ctx.w3.eth.chain_id, _registry(app).address)
    if out is None:
        click.echo(att.to_json())
    else:
        out.write_text(att.to_json() + "\n")
        click.echo(f"attestation of {device_address} for {machine_id} written to {out}", err=True)


@device.command("attest")
@as_option
@click.argument("device_key", metavar="DEVICE")
@click.option("--machine", "machine_id", required=True, help="machine id")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write the attestation JSON here (default stdout)")
@pass_app
def device_attest(app: App, as_: str, device_key: str, machine_id: str, out: Path | None) -> None:
    """Sign, as the machine's manufacturer, that DEVICE is the machine's key (an EIP-712 attestation anyone can check)."""
    _machine(_registry(app), machine_id)
    _write_attestation(app, as_, app.address_of(device_key), machine_id, out)


@device.command("verify-attestation")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def device_verify_attestation(app: App, file: Path, as_json: bool) -> None:
    """Check an attestation: its signature, that the signer belongs to the machine's manufacturer, how the key is bound."""
    from fedpm.consortium.attestation import AttestationError, DeviceAttestation

    att = DeviceAttestation.from_json(file.read_text())
    check = _registry(app).check_attestation(att)
    if as_json:
        echo_json({"ok": check.ok, "device": att.device, "machineId": att.machine_id, "signer": att.signer, "signerOrg": check.signer_org,
                   "manufacturerOrg": check.manufacturer_org, "boundMachine": check.bound_machine, "keyStatus": check.key_status, "problem": check.problem})
    if not check.ok:
        raise AttestationError(f"attestation does not hold: {check.problem}", hint="ask the machine's manufacturer for a new one (fedpm device attest)")
    if not as_json:
        click.echo(f"attestation holds: {att.device} is {att.machine_id}'s key, attested by {att.signer} of {check.signer_org} (its manufacturer); "
                   f"key {check.key_status or 'not bound yet'}")
