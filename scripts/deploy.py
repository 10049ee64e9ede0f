"""`ape run deploy --network ethereum:local:URL`: deploy fedpm through ape's connection with the one deploy path.

Point ape at a chain that outlives the script, e.g. the one `fedpm chain up` prints:
`ape run deploy --network ethereum:local:http://127.0.0.1:8545 --as gov-a --governor gov-a --governor gov-b --governor gov-c`.
A chain ape starts itself (`ethereum:local:foundry`) is stopped when the script ends, so the deployment file would
point at nothing: that is refused. The contracts go out through `chain.deploy.deploy_all`, the same code
`fedpm deploy` runs, signed by a keystore account; governors are keystore accounts too (`fedpm account new`), so
`ape run round --as gov-a` and every `fedpm ... --as` command can use them afterwards.
"""

from __future__ import annotations

import click
from ape import chain
from ape.cli import ConnectedProviderCommand

from chain.compile import compile_contracts
from chain.connect import ChainContext
from chain.deploy import GenesisOrg, deploy_all
from ground.errors import FedpmError
from fedpm.consortium.bootstrap import propose_lease_trust
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.settings import load_settings


@click.command(cls=ConnectedProviderCommand)
@click.option("--as", "as_", default="gov-a", show_default=True, help="keystore account that signs the deployment")
@click.option("--governor", "governors", multiple=True, default=("gov-a", "gov-b", "gov-c"), show_default=True, help="keystore account of a founding governor org (repeat)")
@click.option("--threshold", type=int, default=2, show_default=True)
def cli(as_: str, governors: tuple[str, ...], threshold: int) -> None:
    trust = None
    try:
        if getattr(chain.provider, "process", None) is not None:
            raise FedpmError("ape started this chain itself and stops it when the script ends, so the deployment would point at nothing",
                             hint="start a chain with `fedpm chain up` and pass --network ethereum:local:<its URL>")
        if not 1 <= threshold <= len(governors):
            raise FedpmError(f"threshold {threshold} must be between 1 and the {len(governors)} governors", hint="pass --threshold k with 1 <= k <= n")
        settings = load_settings()
        ctx = ChainContext(settings=settings, w3=chain.provider.web3, artifacts=compile_contracts(settings.chain.evm_version))
        genesis = [GenesisOrg(name, ctx.keystore.address(name)) for name in governors]
        sender = ctx.sender_for(as_)
        deployment = deploy_all(ctx.w3, sender, ctx.artifacts, genesis, threshold)
        deployment.save(ctx.deployment_path)
        trust = propose_lease_trust(ConsortiumRegistry(ctx), sender, deployment)  # leases lock device keys once executed
        if trust is not None and threshold == 1:
            ConsortiumRegistry(ctx).execute(sender, trust)
    except FedpmError as exc:
        raise click.ClickException(str(exc)) from None
    for name, info in deployment.contracts.items():
        click.echo(f"{name:<22} {info['address']}")
    click.echo(f"deployment written to {ctx.deployment_path}")
    if trust is not None and threshold > 1:
        click.echo(f"proposal {trust}: trust the MachineLease to lock device keys during leases; other governors approve and execute it")
