"""`fedpm machine register|list` and `fedpm device register|revoke`."""

from __future__ import annotations

import click
from eth_utils import keccak

from fedpm.cli.app import App, as_option, pass_app
from ground.ids import from_bytes32, to_bytes32


@click.group()
def machine() -> None:
    """Machines operated by consortium members."""


@machine.command("register")
@as_option
@click.argument("machine_id")
@click.option("--manufacturer", required=True, metavar="ORG", help="org id of the machine's manufacturer")
@click.option("--metadata", default="", help="machine metadata (model, serial); its keccak256 goes on chain")
@pass_app
def machine_register(app: App, as_: str, machine_id: str, manufacturer: str, metadata: str) -> None:
    """Register MACHINE_ID as operated by your org."""
    meta_hash = keccak(text=metadata) if metadata else b"\0" * 32
    reg = app.ctx.contract("ConsortiumRegistry")
    app.ctx.sender_for(as_).transact(reg.functions.registerMachine(to_bytes32(machine_id), to_bytes32(manufacturer), meta_hash))
    click.echo(f"registered machine {machine_id}")


@machine.command("list")
@pass_app
def machine_list(app: App) -> None:
    reg = app.ctx.contract("ConsortiumRegistry")
    for raw in reg.functions.machineIds().call():
        op, maker, _meta, _ = reg.functions.machine(raw).call()
        click.echo(f"{from_bytes32(raw):<20} operator={from_bytes32(op):<14} manufacturer={from_bytes32(maker)}")


@click.group()
def device() -> None:
    """Device signing keys bound to machines."""


@device.command("register")
@as_option
@click.argument("device")
@click.option("--machine", "machine_id", required=True)
@pass_app
def device_register(app: App, as_: str, device: str, machine_id: str) -> None:
    """Bind DEVICE (an address or a keystore name) to a machine of your org."""
    address = app.address_of(device)
    reg = app.ctx.contract("ConsortiumRegistry")
    app.ctx.sender_for(as_).transact(reg.functions.registerDevice(address, to_bytes32(machine_id)))
    click.echo(f"device {address} bound to {machine_id}")


@device.command("revoke")
@as_option
@click.argument("device")
@pass_app
def device_revoke(app: App, as_: str, device: str) -> None:
    """Revoke DEVICE (address or keystore name): its signatures stop counting."""
    address = app.address_of(device)
    app.ctx.sender_for(as_).transact(app.ctx.contract("ConsortiumRegistry").functions.revokeDevice(address))
    click.echo(f"device {address} revoked")
