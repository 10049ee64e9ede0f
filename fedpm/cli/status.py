"""`fedpm status`: the consortium at a glance, read from the chain (nothing is sent, no password is needed)."""

from __future__ import annotations

from typing import Any

import click

from fedpm.cli.app import App, echo_json, pass_app


def format_status(data: dict[str, Any]) -> str:
    """The text of `fedpm status` from what `--json` shows."""
    chain = data["chain"]
    lines = [f"chain       {chain['url']}  id {chain['chain_id']}  block {chain['block']}"]
    dep = data["deployment"]
    if dep is None:
        lines.append("deployment  none on this chain (fedpm deploy)")
        return "\n".join(lines)
    lines.append(f"deployment  {dep['file']}  {dep['contracts']} contracts  {dep['members']} member orgs, {dep['threshold']}-of-{dep['governors']} governors")
    for a in data["accounts"]:
        lines.append(f"account     {a['account']:<16} {a['address']}  " + (f"org {a['org']} ({a['roles']})" if a["org"] else "no member org"))
    if not data["accounts"]:
        lines.append("accounts    none in this home (fedpm account new NAME)")
    for t in data["tasks"]:
        rnd = f"round {t['round']} {t['round_state']}" if t["round"] else "no round opened"
        lines.append(f"task {t['task']:<6} {t['finalized']}/{t['rounds']} rounds finalized, {rnd}, {t['trainers']} trainers, {t['aggregators']} aggregators")
    if not data["tasks"]:
        lines.append("tasks       none yet (fedpm task create)")
    model = data["latest_model"]
    lines.append(f"model       task {model['task']} after {model['rounds']} round(s): {model['hash']} {model['cid']}" if model else "model       none finalized yet")
    return "\n".join(lines)


def collect_status(app: App) -> dict[str, Any]:
    """What the chain says about the deployment, this home's accounts, the tasks and the latest finalized model."""
    from chain.errors import DeploymentError
    from fedpm.consortium.client import ConsortiumRegistry
    from fl_node.rounds import FederatedLearning
    from ground.ids import hex0x

    ctx = app.ctx
    data: dict[str, Any] = {"chain": {"url": ctx.w3.provider.endpoint_uri, "chain_id": ctx.w3.eth.chain_id, "block": ctx.w3.eth.block_number}}
    try:
        ctx.deployment
    except DeploymentError:
        return data | {"deployment": None}
    registry, fl = ConsortiumRegistry(ctx), FederatedLearning(ctx)
    members = registry.members()
    org_of = {account: o for o in members for account in o.accounts}
    data["deployment"] = {"file": str(ctx.deployment_path), "contracts": len(ctx.deployment.contracts), "members": len(members),
                          "threshold": registry.threshold(), "governors": registry.governor_count()}
    accounts = []
    for name in app.keystore.names():
        address = app.keystore.address(name)
        org = org_of.get(address)
        accounts.append({"account": name, "address": address, "org": org.org_id if org else None, "roles": org.roles.label() if org else None})
    data["accounts"] = accounts
    tasks, latest = [], None
    for task_id in range(fl.task_count()):
        t = fl.task(task_id)
        state = fl.round(task_id, t.rounds_started).state.name.lower() if t.rounds_started else None
        tasks.append({"task": task_id, "rounds": t.rounds, "finalized": t.rounds_finalized, "round": t.rounds_started, "round_state": state,
                      "trainers": len(t.trainers), "aggregators": len(t.aggregators)})
        if t.rounds_finalized:
            latest = {"task": task_id, "rounds": t.rounds_finalized, "hash": hex0x(t.model_hash), "cid": t.model_cid}
    return data | {"tasks": tasks, "latest_model": latest}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_app
def status(app: App, as_json: bool) -> None:
    """The consortium at a glance: chain, deployment, your accounts' orgs and roles, tasks, the latest model."""
    data = collect_status(app)
    if as_json:
        echo_json(data)
    else:
        click.echo(format_status(data))
