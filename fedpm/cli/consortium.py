"""`fedpm consortium propose|approve|execute|members|proposals|besu-allowlist`."""

from __future__ import annotations

from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, pass_app
from ground.errors import FedpmError


def _registry(app: App):  # noqa: ANN202 - ConsortiumRegistry
    from fedpm.consortium.client import ConsortiumRegistry

    return ConsortiumRegistry(app.ctx)


@click.group()
def consortium() -> None:
    """Membership governed by k-of-n governor approval."""


@consortium.command("propose")
@as_option
@click.option("--add", "add_org", metavar="ORG", help="admit organization ORG (needs --name, --roles, --account)")
@click.option("--remove", "remove_org", metavar="ORG", help="remove organization ORG")
@click.option("--set-roles", "roles_org", metavar="ORG", help="change ORG's roles to --roles")
@click.option("--set-threshold", type=int, help="change the approvals a proposal needs")
@click.option("--lease-contract", is_flag=False, flag_value="deployment", metavar="ADDRESS",
              help="trust a MachineLease to lock machines' device keys during its leases (no value: the deployment's)")
@click.option("--name", help="display name of the org to admit")
@click.option("--roles", help="comma-separated: GOVERNOR,OPERATOR,MANUFACTURER,AGGREGATOR,TRAINER")
@click.option("--account", help="first account of the org to admit: an address or a keystore name")
@pass_app
def propose(app: App, as_: str, add_org: str | None, remove_org: str | None, roles_org: str | None, set_threshold: int | None, lease_contract: str | None,
            name: str | None, roles: str | None, account: str | None) -> None:
    """Create a governance proposal (your org's approval counts at once); prints its id."""
    from fedpm.consortium.client import Role

    chosen = [x for x in (add_org, remove_org, roles_org, set_threshold, lease_contract) if x is not None]
    if len(chosen) != 1:
        raise FedpmError("choose exactly one of --add, --remove, --set-roles, --set-threshold, --lease-contract", hint="see `fedpm consortium propose --help`")
    reg = _registry(app)
    if add_org is not None:
        if not (roles and account):
            raise FedpmError("--add needs --roles and --account", hint="e.g. --roles OPERATOR,TRAINER --account factory-5")
        address = app.address_of(account)
        role = Role.parse(roles)
        pid = reg.propose_add_org(app.ctx.sender_for(as_), add_org, name or add_org, role, address)
    elif remove_org is not None:
        pid = reg.propose_remove_org(app.ctx.sender_for(as_), remove_org)
    elif roles_org is not None:
        if not roles:
            raise FedpmError("--set-roles needs --roles", hint="e.g. --roles OPERATOR,TRAINER")
        role = Role.parse(roles)
        pid = reg.propose_set_roles(app.ctx.sender_for(as_), roles_org, role)
    elif set_threshold is not None:
        pid = reg.propose_set_threshold(app.ctx.sender_for(as_), set_threshold)
    else:
        lease = app.ctx.deployment.address("MachineLease") if lease_contract == "deployment" else app.address_of(lease_contract)
        pid = reg.propose_add_lease_contract(app.ctx.sender_for(as_), lease)
    click.echo(pid)


@consortium.command("approve")
@as_option
@click.argument("proposal_id", type=int)
@pass_app
def approve(app: App, as_: str, proposal_id: int) -> None:
    """Approve a proposal on behalf of your governor org."""
    _registry(app).approve(app.ctx.sender_for(as_), proposal_id)
    click.echo(f"approved proposal {proposal_id}")


@consortium.command("execute")
@as_option
@click.argument("proposal_id", type=int)
@pass_app
def execute(app: App, as_: str, proposal_id: int) -> None:
    """Apply a proposal that reached the threshold."""
    _registry(app).execute(app.ctx.sender_for(as_), proposal_id)
    click.echo(f"executed proposal {proposal_id}")


@consortium.command("members")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def members(app: App, as_json: bool) -> None:
    """The member table: organizations, roles, accounts."""
    from fedpm.consortium.client import format_members

    rows = _registry(app).members()
    if as_json:
        echo_json([{"org": m.org_id, "name": m.name, "roles": m.roles.label(), "accounts": list(m.accounts), "enodes": list(m.enodes)} for m in rows])
    else:
        click.echo(format_members(rows))


@consortium.command("proposals")
@pass_app
def proposals(app: App) -> None:
    """Every proposal with its approvals and state."""
    for p in _registry(app).proposals():
        state = "executed" if p.executed else "open"
        click.echo(f"{p.proposal_id:>3}  {p.kind.solidity_name:<12} {p.org_id or '-':<14} approvals={','.join(p.approvers):<20} {state}")


@consortium.command("besu-allowlist")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="write permissions_config.toml here (default: stdout)")
@click.option("--sync", "sync_url", metavar="URL", help="apply the difference to this Besu node via perm_* RPC")
@pass_app
def besu_allowlist(app: App, output: Path | None, sync_url: str | None) -> None:
    """Render Besu's local permissioning file from the registry, or sync a running node."""
    from fedpm.consortium.besu import render_besu_allowlist, sync_besu

    rows = _registry(app).members()
    if sync_url:
        diff = sync_besu(sync_url, rows)
        click.echo(f"accounts +{len(diff.add_accounts)} -{len(diff.remove_accounts)}, nodes +{len(diff.add_nodes)} -{len(diff.remove_nodes)}")
        return
    text = render_besu_allowlist(rows)
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
