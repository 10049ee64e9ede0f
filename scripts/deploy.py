"""`ape run deploy`: deploy fedpm through ape's network management with the one deploy path.

ape starts (or connects to) the network, here anvil via ape-foundry; the contracts go out through
`chain.deploy.deploy_all`, the same code `fedpm deploy` runs, and the deployment file lands where every node
reads it. The first three ape test accounts found the consortium as governors (2-of-3).
"""

from __future__ import annotations

import os

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from eth_account import Account

from chain.compile import all_error_abis, compile_contracts
from chain.deploy import GenesisOrg, deploy_all
from chain.reverts import RevertDecoder
from chain.sender import TxSender
from fedpm.settings import load_settings


@click.command(cls=ConnectedProviderCommand)
@click.option("--threshold", type=int, default=2, show_default=True)
def cli(threshold: int) -> None:
    settings = load_settings()
    w3 = chain.provider.web3
    artifacts = compile_contracts(settings.chain.evm_version)
    governors = [Account.from_key(a.private_key) for a in accounts.test_accounts[:3]]
    sender = TxSender(w3, governors[0], RevertDecoder(all_error_abis(artifacts)))
    genesis = [GenesisOrg(f"gov-{c}", g.address) for c, g in zip("abc", governors)]
    deployment = deploy_all(w3, sender, artifacts, genesis, threshold)
    path = settings.chain.deployment_file or settings.deployments_dir / f"{deployment.chain_id}.json"
    deployment.save(path)
    for name, info in deployment.contracts.items():
        click.echo(f"{name:<22} {info['address']}")
    click.echo(f"deployment written to {path} (pid {os.getpid()})")
