"""`fedpm lease`: pay-per-use machine leases (offer, accept, usage, top-up, withdraw, close, refund, invoice, list); `fedpm token balance`."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from fedpm.cli.app import ID, App, as_option, echo_json, pass_app
from ground.errors import FedpmError

TOKEN_DECIMALS = 18


def parse_amount(text: str, decimals: int = TOKEN_DECIMALS) -> int:
    """'12.5' tokens -> base units; exact or an error."""
    try:
        value = Decimal(text) * (10**decimals)
    except InvalidOperation:
        raise FedpmError(f"amount {text!r} is not a number", hint="give tokens as a decimal, e.g. 12.5") from None
    if value < 0 or value != value.to_integral_value():
        raise FedpmError(f"amount {text!r} is negative or too precise", hint=f"at most {decimals} decimals, not negative")
    return int(value)


def parse_counter(text: str) -> int:
    """A cumulative reading in tariff units ('3.5' hours) -> milli-unit counter ticks."""
    from fedpm.lease.tariff import UNIT_SCALE

    try:
        value = Decimal(text) * UNIT_SCALE
    except InvalidOperation:
        raise FedpmError(f"counter {text!r} is not a number", hint="give the cumulative reading in tariff units, e.g. 1234.5") from None
    if value < 0 or value != value.to_integral_value():
        raise FedpmError(f"counter {text!r} is negative or finer than 0.001", hint="counters have milli-unit resolution")
    return int(value)


def _lease(app: App):  # noqa: ANN202 - MachineLease
    from fedpm.lease.client import MachineLease

    return MachineLease(app.ctx)


def _address(app: App, who: str) -> str:
    from eth_utils import is_address, to_checksum_address

    return to_checksum_address(who) if is_address(who) else app.ctx.keystore.address(who)


def _reading(app: App, lease: Any, lease_id: int, device: str | None, counter: str | None, report: Path | None, read_at: int | None = None) -> Any:
    """A signed report: from a file, or signed here with the device's keystore."""
    from fedpm.lease.usage import SignedReport, verify

    if report is not None:
        signed = SignedReport.from_json(report.read_text())
        verify(signed, chain_id=app.ctx.w3.eth.chain_id, contract=lease.address)
        if signed.report.lease_id != lease_id:
            raise FedpmError(f"report file is for lease {signed.report.lease_id}, not {lease_id}", hint="pick the report of this lease")
        return signed
    if device is None or counter is None:
        raise FedpmError("a reading is needed", hint="give --device KEYSTORE --counter N, or --report FILE")
    machine = lease.lease(lease_id).machine_id
    return lease.sign_usage(app.ctx.keystore.load(device), lease_id, machine, parse_counter(counter), read_at)


def reading_options(f: Any) -> Any:
    f = click.option("--report", "report", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="signed usage report JSON (from the device/gateway)")(f)
    f = click.option("--counter", help="cumulative reading in tariff units (resolution 0.001)")(f)
    f = click.option("--device", metavar="KEYSTORE", help="device keystore that signs the reading")(f)
    return f


@click.group()
def lease() -> None:
    """Pay-per-use machine leases settled in the consortium token."""


@lease.command()
@as_option
@click.option("--to", "to", required=True, help="address or keystore name")
@click.option("--amount", required=True, help="tokens (decimal)")
@pass_app
def mint(app: App, as_: str, to: str, amount: str) -> None:
    """Propose minting consortium tokens (a governor); they are minted when the proposal is executed k-of-n."""
    from fedpm.consortium.client import ConsortiumRegistry
    from fedpm.lease.client import ConsortiumToken

    token, registry = ConsortiumToken(app.ctx), ConsortiumRegistry(app.ctx)
    receiver, base_units = _address(app, to), parse_amount(amount)
    pid = registry.propose_mint(app.ctx.sender_for(as_), token.address, receiver, base_units)
    click.echo(f"proposal {pid}: mint {amount} to {to}; other governors run `fedpm consortium approve {pid}`, then `fedpm consortium execute {pid}`")


@lease.command()
@as_option
@click.option("--machine", required=True, help="machine id")
@click.option("--tariff", "tariff_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="KOSMoS-style tariff JSON")
@click.option("--tariff-id", default="default", show_default=True)
@click.option("--unit", default="operatingHour", show_default=True, help="operatingHour, part or kWh")
@click.option("--price", help="tokens per unit (decimal)")
@click.option("--min-deposit", default="0", show_default=True, help="tokens")
@click.option("--cap", default="0", show_default=True, help="max charge in tokens per --cap-period (0: none)")
@click.option("--cap-period", default=0, type=int, show_default=True, help="seconds; 0: cap over the whole lease")
@click.option("--days", default=30, type=int, show_default=True, help="term length")
@pass_app
def offer(app: App, as_: str, machine: str, tariff_file: Path | None, tariff_id: str, unit: str, price: str | None, min_deposit: str, cap: str, cap_period: int, days: int) -> None:
    """Offer a machine you manufactured for lease."""
    from fedpm.lease.tariff import Tariff, Unit

    if tariff_file:
        tariff = Tariff.from_json(tariff_file.read_text())
    elif price is None:
        raise FedpmError("no tariff given", hint="give --price (and --unit) or --tariff FILE")
    else:
        tariff = Tariff(tariff_id, Unit.parse(unit), parse_amount(price), int(time.time()) + days * 86400, parse_amount(min_deposit), parse_amount(cap), cap_period)
    lease_id, rcpt = _lease(app).offer(app.ctx.sender_for(as_), machine, tariff)
    click.echo(f"lease {lease_id} offered for {machine} (gas {rcpt.gas_used})")


@lease.command()
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@click.option("--deposit", required=True, help="tokens (decimal); approved and transferred")
@reading_options
@pass_app
def accept(app: App, as_: str, lease_id: int, deposit: str, device: str | None, counter: str | None, report: Path | None) -> None:
    """Accept an offer with a deposit and the device-signed opening reading."""
    lease_c = _lease(app)
    rcpt = lease_c.accept(app.ctx.sender_for(as_), lease_id, parse_amount(deposit), _reading(app, lease_c, lease_id, device, counter, report))
    click.echo(f"lease {lease_id} accepted with {deposit} deposited (gas {rcpt.gas_used})")


@lease.command("sign-usage")
@click.option("--device", required=True, metavar="KEYSTORE")
@click.option("--lease", "lease_id", required=True, type=ID)
@click.option("--counter", required=True, help="cumulative reading in tariff units")
@click.option("--read-at", type=int, help="unix seconds (default now)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write the report JSON here (default stdout)")
@pass_app
def sign_usage(app: App, device: str, lease_id: int, counter: str, read_at: int | None, out: Path | None) -> None:
    """Sign a cumulative usage counter with a device key (what a gateway does)."""
    text = _reading(app, _lease(app), lease_id, device, counter, None, read_at).to_json()
    if out:
        out.write_text(text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@lease.command("report-usage")
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@reading_options
@pass_app
def report_usage(app: App, as_: str, lease_id: int, device: str | None, counter: str | None, report: Path | None) -> None:
    """Submit a device-signed cumulative reading (anyone may submit)."""
    from fedpm.lease.tariff import format_tokens

    lease_c = _lease(app)
    rcpt = lease_c.report_usage(app.ctx.sender_for(as_), _reading(app, lease_c, lease_id, device, counter, report))
    s = lease_c.lease(lease_id)
    click.echo(f"lease {lease_id}: charged {format_tokens(s.charged)}, available {format_tokens(s.available)}, unpaid {format_tokens(s.unpaid)}, "
               f"{s.status.solidity_name} (gas {rcpt.gas_used})")


@lease.command("top-up")
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@click.option("--amount", required=True, help="tokens (decimal)")
@pass_app
def top_up(app: App, as_: str, lease_id: int, amount: str) -> None:
    """Add to the deposit (settles unpaid usage first, resumes a paused lease)."""
    lease_c = _lease(app)
    rcpt = lease_c.top_up(app.ctx.sender_for(as_), lease_id, parse_amount(amount))
    click.echo(f"lease {lease_id}: topped up {amount}, now {lease_c.lease(lease_id).status.solidity_name} (gas {rcpt.gas_used})")


@lease.command()
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@pass_app
def withdraw(app: App, as_: str, lease_id: int) -> None:
    """Pull the owner's earnings."""
    from fedpm.lease.tariff import format_tokens

    amount, rcpt = _lease(app).withdraw(app.ctx.sender_for(as_), lease_id)
    click.echo(f"lease {lease_id}: withdrew {format_tokens(amount)} (gas {rcpt.gas_used})")


@lease.command()
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@reading_options
@pass_app
def close(app: App, as_: str, lease_id: int, device: str | None, counter: str | None, report: Path | None) -> None:
    """Close with a final device-signed reading; refund after the dispute window (`fedpm lease refund`)."""
    from fedpm.lease.tariff import fmt_time, format_tokens

    lease_c = _lease(app)
    rcpt = lease_c.close(app.ctx.sender_for(as_), lease_id, _reading(app, lease_c, lease_id, device, counter, report))
    s = lease_c.lease(lease_id)
    click.echo(f"lease {lease_id} closing; refund of {format_tokens(s.available)} claimable from {fmt_time(s.closed_at + lease_c.dispute_window())} "
               f"(gas {rcpt.gas_used})")


@lease.command()
@as_option
@click.option("--lease", "lease_id", required=True, type=ID)
@pass_app
def refund(app: App, as_: str, lease_id: int) -> None:
    """Claim the uncharged deposit after the dispute window."""
    from fedpm.lease.tariff import format_tokens

    lease_c = _lease(app)
    rcpt = lease_c.claim_refund(app.ctx.sender_for(as_), lease_id)
    click.echo(f"lease {lease_id} closed; refunded {format_tokens(lease_c.lease(lease_id).refunded)} (gas {rcpt.gas_used})")


@lease.command("list")
@click.option("--machine", help="only the leases offered for this machine")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def lease_list(app: App, machine: str | None, as_json: bool) -> None:
    """Every lease (ids start at 1): machine, parties, status, tariff and money in tokens."""
    from fedpm.lease.client import format_leases

    lease_c = _lease(app)
    summaries = [lease_c.lease(i).summary() for i in lease_c.lease_ids(machine)]
    if as_json:
        echo_json(summaries)
    elif summaries:
        click.echo(format_leases(summaries))
    else:
        click.echo(f"no leases{f' for {machine}' if machine else ''} yet (fedpm lease offer creates one)", err=True)


@lease.command()
@click.option("--lease", "lease_id", required=True, type=ID)
@click.option("--json", "as_json", is_flag=True, help="machine-readable statement")
@pass_app
def invoice(app: App, lease_id: int, as_json: bool) -> None:
    """The lease statement rebuilt from chain events, reconciled with the contract."""
    from fedpm.lease.invoice import format_invoice
    from fedpm.lease.tariff import format_tokens

    lease_c = _lease(app)
    inv = lease_c.invoice(lease_id)
    rec = lease_c.reconcile(inv)
    if as_json:
        echo_json(inv.to_json_dict() | {"reconciled": rec.ok, "contractHeld": rec.contract_held})
        return
    click.echo(format_invoice(inv))
    click.echo(f"  reconciled with contract: {'yes' if rec.ok else 'NO (contract holds ' + format_tokens(rec.contract_held) + ')'}")


@click.group()
def token() -> None:
    """The consortium token (FCT) that settles leases."""


@token.command("balance")
@click.argument("accounts", nargs=-1, metavar="[ACCOUNT]...")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def token_balance(app: App, accounts: tuple[str, ...], as_json: bool) -> None:
    """Token balances of ACCOUNTs (keystore names or addresses; default: every keystore account)."""
    from fedpm.lease.client import MachineLease
    from fedpm.lease.tariff import fmt_amount

    names = accounts or tuple(app.keystore.names())
    if not names:
        raise FedpmError("no account to show", hint="name one (fedpm token balance ACCOUNT) or create one (fedpm account new NAME)")
    tok = MachineLease(app.ctx).token
    rows = [(name, address, fmt_amount(tok.balance_of(address))) for name, address in ((n, _address(app, n)) for n in names)]
    if as_json:
        echo_json([{"account": n, "address": a, "balance": b, "currency": "FCT"} for n, a, b in rows])
        return
    width = max(len(n) for n, _, _ in rows)
    for name, address, balance in rows:
        click.echo(f"{name:<{width}}  {address}  {balance} FCT")
