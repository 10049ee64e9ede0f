"""`fedpm account new|list|fund`: encrypted keystores of participants and devices, and gas money for them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click

from fedpm.cli.app import App, pass_app
from ground.errors import FedpmError


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


@account.command("fund")
@click.argument("name")
@click.option("--amount", required=True, metavar="ETH", help="how much of the chain's currency to send, in ether (e.g. 0.5)")
@click.option("--from", "from_", metavar="ACCOUNT", default=None, help="funded keystore account that pays (default: the node's first unlocked account, on development chains)")
@pass_app
def account_fund(app: App, name: str, amount: str, from_: str | None) -> None:
    """Send gas money to account NAME (a keystore name or 0x address), on a chain that charges gas."""
    from web3 import Web3

    from chain.funds import fund

    try:
        wei = int(Web3.to_wei(Decimal(amount), "ether"))
    except (InvalidOperation, ValueError):
        raise FedpmError(f"--amount {amount!r} is not an amount of ether", hint="pass a positive decimal, e.g. --amount 0.5") from None
    if wei <= 0:
        raise FedpmError(f"--amount {amount} must be positive", hint="pass a positive decimal, e.g. --amount 0.5")
    ctx = app.ctx
    to = app.address_of(name)
    tx = fund(ctx.w3, to, wei, ctx.sender_for(from_) if from_ else None, timeout=ctx.settings.chain.tx_timeout_s)
    click.echo(f"{to} now holds {Web3.from_wei(ctx.w3.eth.get_balance(to), 'ether')} (tx {tx})")
