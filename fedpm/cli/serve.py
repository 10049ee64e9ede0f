"""`fedpm serve` (the prediction service) and `fedpm health alerts|timeline|labels`."""

from __future__ import annotations

from pathlib import Path

import click

from fedpm.cli.app import ID, App, echo_json, pass_app


@click.command("serve")
@click.option("--task", "task_id", type=ID, help="federated task whose versions are served (serve.task, FEDPM_SERVE_TASK)")
@click.option("--host", help="listen address (serve.host, FEDPM_SERVE_HOST)")
@click.option("--port", type=int, help="listen port (serve.port, FEDPM_SERVE_PORT)")
@click.option("--fleet", type=click.Path(dir_okay=False, path_type=Path), help="fleet file: machine -> class (serve.fleet, FEDPM_SERVE_FLEET)")
@pass_app
def serve(app: App, task_id: int | None, host: str | None, port: int | None, fleet: Path | None) -> None:
    """Serve machine health predictions over HTTP until Ctrl-C: GET /machines/{id}/health, POST /predict, /metrics."""
    from fedpm.service.server import serve_forever

    for key, value in (("serve.task", task_id), ("serve.host", host), ("serve.port", port), ("serve.fleet", fleet)):
        if value is not None:
            app.overrides[key] = value
    app.__dict__.pop("settings", None)  # reload with the flags
    serve_forever(app.settings, announce=click.echo)


@click.group()
def health() -> None:
    """What the prediction service recorded: alerts, per-machine timelines, run-to-failure training data."""


def _journal(app: App):  # noqa: ANN202 - Journal
    from fedpm.prognostics.journal import Journal, journal_path
    from ground.errors import FedpmError

    path = journal_path(app.settings.home)
    if not path.exists():
        raise FedpmError(f"no prediction journal at {path}", hint="run `fedpm serve` with this --home first")
    return Journal(path)


@health.command("alerts")
@click.option("--machine", help="only this machine")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def alerts(app: App, machine: str | None, as_json: bool) -> None:
    """Alerts raised, with their id (what `fedpm maintenance add --answers` takes)."""
    journal = _journal(app)
    rows = journal.alerts(machine)
    journal.close()
    if as_json:
        echo_json([{"id": a.id, **a.to_json()} for a in rows])
        return
    for a in rows:
        click.echo(f"{a.id}  {a.machine:<16} {a.level:<5} RUL {a.rul:>7.2f} < {a.threshold:g}  task {a.task} round {a.round}  {a.action}")
    if not rows:
        click.echo("no alert")


def _timeline(app: App, machine: str) -> dict:
    from fedpm.maintenance.client import MaintenanceLog, audit_machine
    from fedpm.maintenance.store import RecordStore, record_store_path
    from fedpm.prognostics.timeline import machine_timeline

    journal = _journal(app)
    try:
        report = None  # no maintenance recorded here yet
        if record_store_path(app.settings.home).exists():
            with RecordStore(record_store_path(app.settings.home)) as store:
                report = audit_machine(MaintenanceLog(app.ctx), store, machine)
        return machine_timeline(machine, journal.predictions(machine), journal.alerts(machine), report)
    finally:
        journal.close()


@health.command("timeline")
@click.option("--machine", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def timeline(app: App, machine: str, as_json: bool) -> None:
    """Predictions, alerts and the maintenance answering them, with the audit's verdict on each record."""
    from fedpm.prognostics.timeline import format_timeline

    t = _timeline(app, machine)
    echo_json(t) if as_json else click.echo(format_timeline(t))


@health.command("labels")
@click.option("--machine", "machines", required=True, multiple=True, help="machine whose verified history a recorded failure closed (repeat)")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="C-MAPSS-layout file for `fedpm node train --data`")
@pass_app
def labels(app: App, machines: tuple[str, ...], out: Path) -> None:
    """Turn machines' verified readings up to a recorded failure into labeled training data (true RUL per cycle)."""
    from fedpm.prognostics.labels import histories_of, write_training_file
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.feed import VerifiedFeed
    from fedpm.sensors.store import gateway_store_path

    feed = VerifiedFeed(app.settings.serve.gateway_store or gateway_store_path(app.settings.home), SensorBatchRegistry(app.ctx))
    try:
        found = [h for m in machines for h in histories_of(app.settings.home, app.ctx, feed, m)]
    finally:
        feed.close()
    write_training_file(found, out)
    for h in found:
        click.echo(f"{h.machine}: {len(h.ts)} verified cycles up to {h.event[:12]}… labeled {int(h.rul[0])}..0 cycles of remaining life")
    click.echo(f"wrote {len(found)} run-to-failure history(ies) to {out}")
