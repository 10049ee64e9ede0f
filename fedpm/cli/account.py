"""`fedpm account new|list`: encrypted keystores of participants and devices."""

from __future__ import annotations

import click

from fedpm.cli.app import App, pass_app


@click.group()
def account() -> None:
    """Participant and device keys (encrypted V3 keystores)."""


@account.command("new")
@click.argument("name")
@pass_app
def account_new(app: App, name: str) -> None:
    """Create an encrypted keystore NAME with a fresh key; prints its address."""
    click.echo(app.keystore.create(name))


@account.command("list")
@pass_app
def account_list(app: App) -> None:
    """Keystore names and addresses (no password needed)."""
    ks = app.keystore
    for name in ks.names():
        click.echo(f"{name:<24} {ks.address(name)}")
