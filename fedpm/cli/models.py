"""`fedpm model list|show|pull|use|log`: model versions of a federated task, from the chain."""

from __future__ import annotations

from pathlib import Path

import click

from fedpm.cli.app import ID, App, echo_json, pass_app
from ground.errors import FedpmError


def _registry(app: App):  # noqa: ANN202 - ModelRegistry
    from fedpm.models.registry import ModelRegistry
    from fl_node.rounds import FederatedLearning
    from fl_node.storage import open_store

    return ModelRegistry(FederatedLearning(app.ctx), open_store(app.settings), retries=app.settings.storage.retries)


def _choices(app: App):  # noqa: ANN202 - ChoiceLog
    from fedpm.models.choice import ChoiceLog, choice_log_path

    return ChoiceLog(choice_log_path(app.settings.home))


task_option = click.option("--task", "task_id", type=ID, required=True, help="federated task id")


@click.group()
def model() -> None:
    """Model versions: every finalized round of a task, fetched only when its bytes match the hash on chain."""


@model.command("list")
@task_option
@click.option("--json", "as_json", is_flag=True)
@pass_app
def model_list(app: App, task_id: int, as_json: bool) -> None:
    """Every finalized version of the task; * marks the one this home serves."""
    from fedpm.models.choice import resolve
    from fedpm.models.registry import format_versions

    versions = _registry(app).versions(task_id)
    chosen = resolve(versions, _choices(app).current(task_id)).round if versions else None
    if as_json:
        echo_json({"task": task_id, "served_round": chosen, "versions": [v.to_json() for v in versions]})
    else:
        click.echo(format_versions(versions, chosen))


@model.command("show")
@task_option
@click.option("--round", "round_", type=ID, help="default: the newest finalized round")
@pass_app
def model_show(app: App, task_id: int, round_: int | None) -> None:
    """One version: hash, CID, finalization, trainers included and what they reported."""
    echo_json(_registry(app).version(task_id, round_).to_json())


@model.command("pull")
@task_option
@click.option("--round", "round_", type=ID, help="default: the newest finalized round")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="file to write the canonical model bytes to")
@pass_app
def model_pull(app: App, task_id: int, round_: int | None, out: Path) -> None:
    """Fetch a version from the content store; bytes that do not hash to the finalized hash are refused."""
    from ground.files import atomic_write

    registry = _registry(app)
    version = registry.version(task_id, round_)
    blob = registry.pull(version)
    atomic_write(out, blob)
    click.echo(f"{version.short}: {len(blob)} bytes, keccak256 {version.model_hash} verified, written to {out}")


@model.command("use")
@task_option
@click.option("--round", "round_", type=ID, help="pin this finalized round (a rollback)")
@click.option("--latest", is_flag=True, help="serve the newest finalized version again")
@click.option("--reason", default="", help="why (kept in the log)")
@pass_app
def model_use(app: App, task_id: int, round_: int | None, latest: bool, reason: str) -> None:
    """Choose the version `fedpm serve` serves: pin a round, or follow the newest again. Logged locally."""
    if (round_ is None) == (not latest):
        raise FedpmError("give exactly one of --round R and --latest", hint="--round pins a version, --latest follows the newest")
    log = _choices(app)
    if latest:
        _registry(app).task(task_id)
        choice = log.follow_latest(task_id, reason)
        click.echo(f"task {task_id}: following the newest finalized version (logged by {choice.by})")
    else:
        version = _registry(app).version(task_id, round_)
        choice = log.pin(version, reason)
        click.echo(f"task {task_id}: pinned {version.short} (logged by {choice.by})")


@model.command("log")
@task_option
@pass_app
def model_log(app: App, task_id: int) -> None:
    """The local log of version choices for the task."""
    rows = _choices(app).history(task_id)
    if not rows:
        click.echo(f"task {task_id}: no choice logged; the newest finalized version is served")
    for c in rows:
        what = "follow the newest" if c.pin is None else f"pin round {c.pin} ({c.model_hash})"
        click.echo(f"{c.at}  {c.by:<12} {what}{'  — ' + c.reason if c.reason else ''}")
