"""`ape run round --task N --as ACCOUNT [--wait]`: the coordinator opens the next round of a federated task.

ape manages the connection (e.g. `--network ethereum:local:http://127.0.0.1:8545` for the chain `fedpm chain up`
started and `ape run deploy` deployed to); the transaction goes out through fedpm's one sender, signed by the
coordinator's keystore account, against the deployment file of that chain.
"""

from __future__ import annotations

import click
from ape import chain
from ape.cli import ConnectedProviderCommand

from chain.compile import compile_contracts
from chain.connect import ChainContext
from fedpm.settings import load_settings
from fl_node.coordinator import wait_round
from fl_node.rounds import FederatedLearning
from ground.errors import FedpmError


@click.command(cls=ConnectedProviderCommand)
@click.option("--task", "task_id", type=int, required=True)
@click.option("--as", "as_", required=True, help="coordinator's keystore account")
@click.option("--wait", is_flag=True, help="block until the round is finalized or failed")
def cli(task_id: int, as_: str, wait: bool) -> None:
    try:
        settings = load_settings()
        ctx = ChainContext(settings=settings, w3=chain.provider.web3, artifacts=compile_contracts(settings.chain.evm_version))
        fl = FederatedLearning(ctx)  # reads the deployment file: refused if it points at nothing on this chain
        r = fl.open_round(ctx.sender_for(as_), task_id)
        click.echo(f"opened round {r} of task {task_id}")
        if wait:
            view = wait_round(fl, task_id, r, poll=settings.chain.poll_interval_s)
            click.echo(f"round {r} {view.state.name.lower()}: model 0x{view.result_hash.hex()} {view.result_cid}")
    except FedpmError as exc:
        raise click.ClickException(str(exc)) from None
