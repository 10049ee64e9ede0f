"""`fedpm machine register|list|show` (device keys: `fedpm/cli/device.py`)."""

from __future__ import annotations

import click

from fedpm.cli.app import App, as_option, echo_json, pass_app
from ground.errors import FedpmError


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
    from eth_utils import keccak

    meta_hash = keccak(text=metadata) if metadata else b"\0" * 32
    _registry(app).register_machine(app.ctx.sender_for(as_), machine_id, manufacturer, meta_hash)
    click.echo(f"registered machine {machine_id}")


@machine.command("list")
@pass_app
def machine_list(app: App) -> None:
    for m in _registry(app).machines():
        click.echo(f"{m.machine_id:<20} operator={m.operator_org:<14} manufacturer={m.manufacturer_org}")


@machine.command("show")
@click.argument("machine_id")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def machine_show(app: App, machine_id: str, as_json: bool) -> None:
    """A machine: operator and manufacturer orgs, its device keys, its open lease."""
    from fedpm.lease.client import MachineLease
    from ground.ids import hex0x

    registry = _registry(app)
    m = registry.machine(machine_id)
    if m is None:
        raise FedpmError(f"no machine {machine_id!r} is registered", hint="see the registered machines with `fedpm machine list`")
    now = registry.now()
    lease_id = MachineLease(app.ctx).active_lease(machine_id)
    data = {"machine": m.machine_id, "operator": m.operator_org, "manufacturer": m.manufacturer_org, "metadata_hash": hex0x(m.metadata_hash),
            "devices": [{"device": d.device, "status": d.status(now)} for d in registry.device_keys(machine_id)], "open_lease": lease_id or None}
    if as_json:
        echo_json(data)
        return
    click.echo(f"machine {m.machine_id}: operator {m.operator_org}, manufacturer {m.manufacturer_org}, metadata {data['metadata_hash']}")
    for d in data["devices"]:
        click.echo(f"  device {d['device']}  {d['status']}")
    click.echo(f"  open lease {lease_id} (fedpm lease invoice --lease {lease_id})" if lease_id else "  no open lease")
