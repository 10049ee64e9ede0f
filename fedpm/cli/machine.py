"""`fedpm machine register|list` and `fedpm device register|revoke`."""

from __future__ import annotations

import click
from eth_utils import keccak

from fedpm.cli.app import App, as_option, pass_app


def _registry(app: App):  # noqa: ANN202 - ConsortiumRegistry
    from fedpm.consortium.client import ConsortiumRegistry

    return ConsortiumRegistry(app.ctx)


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
    _registry(app).register_machine(app.ctx.sender_for(as_), machine_id, manufacturer, meta_hash)
    click.echo(f"registered machine {machine_id}")


@machine.command("list")
@pass_app
def machine_list(app: App) -> None:
    for m in _registry(app).machines():
        click.echo(f"{m.machine_id:<20} operator={m.operator_org:<14} manufacturer={m.manufacturer_org}")


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
    _registry(app).register_device(app.ctx.sender_for(as_), address, machine_id)
    click.echo(f"device {address} bound to {machine_id}")


@device.command("revoke")
@as_option
@click.argument("device")
@pass_app
def device_revoke(app: App, as_: str, device: str) -> None:
    """Revoke DEVICE (address or keystore name): its signatures stop counting."""
    address = app.address_of(device)
    _registry(app).revoke_device(app.ctx.sender_for(as_), address)
    click.echo(f"device {address} revoked")
