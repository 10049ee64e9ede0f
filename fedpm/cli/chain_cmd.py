"""`fedpm chain up` and `fedpm deploy`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import click

from chain.connect import ChainContext
from chain.deploy import Deployment, GenesisOrg, deploy_all
from chain.node import BLOCK_TIME_S, LocalChain
from chain.sender import TxSender
from fedpm.cli.app import App, as_option, pass_app
from ground.errors import FedpmError


@click.group()
def chain() -> None:
    """The local development chain."""


@chain.command("up")
@click.option("--port", type=int, default=None, help="port to listen on (default: a free one)")
@click.option("--chain-id", type=int, default=1337, show_default=True)
@click.option("--state", "state_file", type=click.Path(path_type=Path), help="load the chain from this file if it exists and save it there on exit")
@click.option("--block-time", type=click.IntRange(min=0), default=BLOCK_TIME_S, show_default=True,
              help="seconds between blocks when nobody transacts (transactions are mined at once); 0: only on transactions")
@pass_app
def chain_up(app: App, port: int | None, chain_id: int, state_file: Path | None, block_time: int) -> None:
    """Start a local anvil (zero gas, paris, a block every second) and keep it running until Ctrl-C."""
    node = LocalChain(port=port, chain_id=chain_id, state_file=state_file, block_time=block_time or None).start()
    chain_file = app.settings.chain_file
    chain_file.parent.mkdir(parents=True, exist_ok=True)
    chain_file.write_text(json.dumps({"url": node.url, "chain_id": chain_id, "pid": os.getpid()}))
    click.echo(node.url, nl=True)
    click.echo(f"chain {chain_id} up; recorded in {chain_file}; Ctrl-C stops it", err=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        node.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        chain_file.unlink(missing_ok=True)


@click.command()
@as_option
@click.option("--governor", "governors", multiple=True, required=True, metavar="ACCOUNT", help="keystore account of a founding governor org (repeat); the org id is the account name")
@click.option("--threshold", type=int, required=True, help="approvals (k) a membership proposal needs")
@click.option("--ttl-hours", type=float, default=168.0, show_default=True, help="how long a proposal stays open")
@pass_app
def deploy(app: App, as_: str, governors: tuple[str, ...], threshold: int, ttl_hours: float) -> None:
    """Deploy every fedpm contract and write the deployment file for this chain."""
    ctx = app.ctx
    if not 1 <= threshold <= len(governors):
        raise FedpmError(f"threshold {threshold} must be between 1 and the {len(governors)} governors", hint="pass --threshold k with 1 <= k <= n")
    genesis = [GenesisOrg(name, app.keystore.address(name)) for name in governors]
    sender = ctx.sender_for(as_)
    deployment = deploy_all(ctx.w3, sender, ctx.artifacts, genesis, threshold, ttl=int(ttl_hours * 3600))
    deployment.save(ctx.deployment_path)
    for name, info in deployment.contracts.items():
        click.echo(f"{name:<22} {info['address']}")
    click.echo(f"deployment written to {ctx.deployment_path}", err=True)
    _propose_lease_trust(ctx, sender, deployment, threshold)


def _propose_lease_trust(ctx: ChainContext, sender: TxSender, deployment: Deployment, threshold: int) -> None:
    """Leases need the governors to trust the MachineLease with device-key locks: propose it (executed at once when
    one approval is enough) and say how the others approve."""
    from fedpm.consortium.bootstrap import propose_lease_trust
    from fedpm.consortium.client import ConsortiumRegistry

    registry = ConsortiumRegistry(ctx)
    pid = propose_lease_trust(registry, sender, deployment)
    if pid is None:
        return
    if threshold == 1:
        registry.execute(sender, pid)
        click.echo(f"proposal {pid} executed: the MachineLease locks device keys during its leases", err=True)
    else:
        click.echo(f"proposal {pid}: trust the MachineLease to lock device keys during its leases; {threshold - 1} more governor(s) "
                   f"approve it (fedpm consortium approve --as GOVERNOR {pid}), then fedpm consortium execute {pid}", err=True)
