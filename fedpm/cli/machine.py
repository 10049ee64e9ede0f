"""`fedpm machine register|list` (device keys: `fedpm/cli/device.py`)."""

from __future__ import annotations

import click
from eth_utils import keccak

from fedpm.cli.app import App, as_option, pass_app


def _registry(app: App):  # noqa: ANN202 - ConsortiumRegistry
    from fedpm.consortium.client import ConsortiumRegistry

    return ConsortiumRegistry(app.ctx)


@click.group()
def machine() -> None:
    """Machines operated by consortium members (their device keys: fedpm device)."""


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
