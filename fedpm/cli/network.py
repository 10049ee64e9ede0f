"""`fedpm network init|validators`: the consortium's network files, and its validator set mirrored from governance."""

from __future__ import annotations

from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, pass_app


@click.group()
def network() -> None:
    """A consortium network on real engines (Besu QBFT, private IPFS, monitoring: docker-compose.yml)."""


@network.command("init")
@click.option("--members", type=int, default=4, show_default=True, help="member organizations, one validator each (at least 4)")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="new folder for the network (must not exist or be empty)")
@click.option("--seed", help="64 hex digits: the same seed gives the same keys (tests); default: random")
@click.option("--chain-id", type=int, default=2018, show_default=True)
@click.option("--block-period", type=int, default=2, show_default=True, help="QBFT block period in seconds")
@pass_app
def network_init(app: App, members: int, out: Path, seed: str | None, chain_id: int, block_period: int) -> None:
    """Validator keys, QBFT genesis, static nodes and allowlists, the IPFS swarm key, member keystores and the .env
    docker-compose.yml reads. Keystores are encrypted with the keystore password (FEDPM_KEYS_PASSWORD_FILE)."""
    from fedpm.network.identity import parse_seed
    from fedpm.network.layout import check_members, check_target, init_network

    check_members(members)  # bad input first, before asking for a password
    check_target(out)
    plan = init_network(out, members, app.settings.keys, seed=parse_seed(seed) if seed is not None else None, chain_id=chain_id, block_period_s=block_period)
    for m in plan.members:
        click.echo(f"{m.name}: account {m.account} validator {m.validator} ipfs {m.peer_id}")
    click.echo(f"wrote {out}: docker compose --env-file {out}/.env up -d (see docs/deploy.md)", err=True)


@network.command("node")
@as_option
@click.argument("enode")
@click.option("--remove", is_flag=True, help="withdraw the node instead of declaring it")
@pass_app
def network_node(app: App, as_: str, enode: str, remove: bool) -> None:
    """Declare (or --remove) a node your organization runs, by its enode URL: the allowlists and, for governor
    organizations, the validator set follow (`fedpm consortium besu-allowlist --sync`, `fedpm network validators --sync`)."""
    from fedpm.network.identity import enode_address

    from fedpm.consortium.client import ConsortiumRegistry

    address = enode_address(enode)  # refuse what is not an enode before sending anything
    registry = ConsortiumRegistry(app.ctx)
    (registry.remove_node if remove else registry.add_node)(app.ctx.sender_for(as_), enode)
    click.echo(f"{'removed' if remove else 'declared'} node {address} ({enode.split('@')[-1]})")


@network.command("validators")
@click.option("--engine", type=click.Choice(["qbft", "clique"]), default="qbft", show_default=True)
@click.option("--sync", "sync_urls", metavar="URL", multiple=True, help="cast this validator node's votes (repeat for each node you operate)")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def network_validators(app: App, engine: str, sync_urls: tuple[str, ...], as_json: bool) -> None:
    """The validator set governance names (enodes of active governor orgs); with --sync, vote it on your nodes."""
    from fedpm.consortium.client import ConsortiumRegistry
    from fedpm.network.validators import governed_validators, sync_validators

    members = ConsortiumRegistry(app.ctx).members()
    if not sync_urls:
        wanted = governed_validators(members)
        echo_json(wanted) if as_json else click.echo("\n".join(wanted))
        return
    for url in sync_urls:
        plan = sync_validators(url, engine, members)
        votes = ", ".join(f"{'add' if add else 'remove'} {a}" for a, add in plan.propose) or "none needed"
        click.echo(f"{url}: votes {votes}" + (f"; withdrew {len(plan.discard)}" if plan.discard else ""))


@network.command("health")
@pass_app
def network_health(app: App) -> None:
    """Exit 0 when this member's chain node is the deployment's chain (same chain id and genesis) and its content
    store answers (the compose health check of every fedpm container)."""
    from fl_node.storage import open_store
    from fl_node.storage.cid import cid_of

    ctx = app.ctx
    deployment = ctx.deployment  # refuses a chain whose id or genesis differs from the deployment file, naming both
    open_store(app.settings).has(cid_of(b""))  # a round trip to the store; raises StorageError with a hint if down
    click.echo(f"ok: chain {deployment.chain_id} at block {ctx.w3.eth.block_number}, storage {app.settings.storage.backend}")
