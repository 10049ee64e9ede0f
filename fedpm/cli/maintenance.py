"""`fedpm maintenance add|list|export|sync`, `fedpm audit maintenance`, `fedpm explorer`."""

from __future__ import annotations

import json
import time as _time
from pathlib import Path

import click

from chain.errors import ChainUnreachable
from fedpm.cli.app import App, as_option, echo_json, pass_app
from fedpm.maintenance.audit import AuditDiscrepancy
from fedpm.maintenance.records import Kind, Record, attachment_hash, normalize_hash
from fedpm.maintenance.store import RecordStore, record_store_path
from ground.errors import FedpmError


def _log(app: App):  # noqa: ANN202 - MaintenanceLog
    from fedpm.maintenance.client import MaintenanceLog

    return MaintenanceLog(app.ctx)


def _submit_line(r) -> str:  # noqa: ANN001
    if r.status == "anchored":
        return f"#{r.seq} {r.record_hash} anchored at position {r.index} (tx {r.tx_hash}, block {r.block}{f', gas {r.gas_used}' if r.gas_used else ''})"
    return f"#{r.seq} {r.record_hash} {r.status}: {r.error}"


@click.group()
def maintenance() -> None:
    """Maintenance records: kept locally, their hashes appended to the machine's history on chain."""


@maintenance.command("add")
@as_option
@click.option("--machine", required=True, help="machine id, e.g. factory-1-m1")
@click.option("--kind", required=True, type=click.Choice([k.label for k in Kind] + ["part-replacement"]), help="what happened")
@click.option("--component", required=True)
@click.option("--description", required=True)
@click.option("--technician", required=True, help="the technician's pseudonym (no personal names)")
@click.option("--technician-org", help="default: the signing account's organization (read from the chain)")
@click.option("--time", "when", type=int, help="unix seconds (default: now)")
@click.option("--attach", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="file whose keccak256 the record keeps")
@click.option("--attachment-hash", "hashes", multiple=True, help="0x… hash of an attachment kept elsewhere")
@click.option("--corrects", help="record hash of the entry this record corrects")
@pass_app
def add(app: App, as_: str, machine: str, kind: str, component: str, description: str, technician: str, technician_org: str | None,
        when: int | None, files: tuple[Path, ...], hashes: tuple[str, ...], corrects: str | None) -> None:
    """Write a record locally, then append its hash on chain (earlier pending records go first)."""
    from fedpm.consortium.client import ConsortiumRegistry
    from fedpm.maintenance.client import add_record

    if technician_org is None:
        try:
            address = app.ctx.keystore.address(as_)
            technician_org = ConsortiumRegistry(app.ctx).org_of(address)
        except ChainUnreachable as exc:
            raise ChainUnreachable(exc.url, hint="give --technician-org to keep the record locally (pending) while the chain is down") from None
    record = Record(machine=machine, time=int(_time.time()) if when is None else when, kind=Kind.parse(kind), component=component,
                    description=description, technician_org=technician_org, technician=technician,
                    attachments=tuple(attachment_hash(p.read_bytes()) for p in files) + tuple(normalize_hash(h, "attachment") for h in hashes),
                    corrects=corrects)
    with RecordStore(record_store_path(app.settings.home), create=True) as store:
        result, earlier = add_record(store, record, lambda: _log(app), lambda: app.ctx.sender_for(as_))
    for r in earlier:
        click.echo(_submit_line(r))
    click.echo(_submit_line(result))
    if result.error is not None:
        if result.status == "pending":
            raise FedpmError(f"record {result.record_hash} kept locally as pending: {result.error.message}", hint="run `fedpm maintenance sync` when the chain is reachable")
        raise result.error


@maintenance.command("sync")
@as_option
@pass_app
def sync(app: App, as_: str) -> None:
    """Resubmit records still pending (in local order)."""
    from fedpm.maintenance.client import sync_pending

    with RecordStore(record_store_path(app.settings.home)) as store:
        results = sync_pending(_log(app), store, app.ctx.sender_for(as_))
    for r in results:
        click.echo(_submit_line(r))
    if not results:
        click.echo("nothing pending")
    if any(r.status == "pending" for r in results):
        raise FedpmError("some records are still pending", hint="see the errors above; run `fedpm maintenance sync` again")


@maintenance.command("list")
@click.option("--machine", help="only this machine")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_(app: App, machine: str | None, as_json: bool) -> None:
    """Local records with their anchoring state."""
    with RecordStore(record_store_path(app.settings.home)) as store:
        rows = store.records(machine)
    if as_json:
        echo_json([r.to_json() for r in rows])
        return
    from fedpm.maintenance.store import format_records_table

    click.echo(format_records_table(rows))


@maintenance.command("export")
@click.option("--machine", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: stdout)")
@pass_app
def export(app: App, machine: str, out: Path | None) -> None:
    """The machine's records as JSON (canonical record, hash, anchoring), to hand to a lessor or auditor."""
    with RecordStore(record_store_path(app.settings.home)) as store:
        rows = store.records(machine)
    doc = json.dumps({"format": "fedpm-maintenance-export/1", "machine": machine, "records": [r.to_json() for r in rows]}, indent=2, sort_keys=True, ensure_ascii=False)
    if out:
        out.write_text(doc + "\n")
        click.echo(f"wrote {len(rows)} record(s) to {out}")
    else:
        click.echo(doc)


@click.group()
def audit() -> None:
    """Check local records against the chain."""


@audit.command("maintenance")
@click.option("--machine", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_maintenance(app: App, machine: str, as_json: bool) -> None:
    """Re-hash every local record and compare with the chain; exits 2 on any discrepancy."""
    from fedpm.maintenance.audit import format_audit_json, format_audit_table
    from fedpm.maintenance.client import audit_machine

    with RecordStore(record_store_path(app.settings.home)) as store:
        report = audit_machine(_log(app), store, machine)
    click.echo(format_audit_json(report) if as_json else format_audit_table(report))
    if not report.ok:
        counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n and s != "verified")
        raise AuditDiscrepancy(f"maintenance history of {machine} has discrepancies: {counts}", hint="see the entries above")


@click.command("explorer")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=int)
@pass_app
def explorer(app: App, host: str, port: int) -> None:
    """Serve the web explorer (machines, maintenance timelines, sensor batches, leases, federated learning) until Ctrl-C."""
    from fedpm.explorer.server import serve_forever

    serve_forever(app.settings, host, port, announce=click.echo)
