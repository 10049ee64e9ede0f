"""`fedpm part record|show|verify|passport`: a quality proof per produced part."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, pass_app
from ground.errors import FedpmError


def _stores(app: App, store: Path | None, *, create: bool = False):
    """(GatewayStore, PartStore) of this home (the gateway store may be elsewhere: --store); `create`: the recorder's."""
    from fedpm.cli.sensors import open_gateway_store
    from fedpm.parts.store import PartStore, part_store_path

    return open_gateway_store(app, store), PartStore(part_store_path(app.settings.home), create=create)


def _stored(parts, part: str):
    found = parts.get(part)
    if found is None:
        raise FedpmError(f"no record of part {part} in {parts.path}", hint="record it first: fedpm part record PART --machine M --step S --from MS --to MS")
    return found


def _model(app: App, task: int | None, round_number: int | None, predicted: float | None):
    from fedpm.parts.records import ModelRef
    from fl_node.rounds import FederatedLearning, RoundState
    from ground.ids import hex0x

    if task is None and round_number is None:
        if predicted is not None:
            raise FedpmError("--predicted-rul needs --model-task and --model-round", hint="name the model that predicted it")
        return None
    if task is None or round_number is None:
        raise FedpmError("give both --model-task and --model-round", hint="e.g. --model-task 0 --model-round 5")
    fl = FederatedLearning(app.ctx)
    if task >= fl.task_count() or not 1 <= round_number <= fl.task(task).rounds_started or fl.round(task, round_number).state != RoundState.FINALIZED:
        raise FedpmError(f"task {task} round {round_number} is not a finalized round", hint="name the finalized model in service (fedpm round status)")
    return ModelRef(task, round_number, hex0x(fl.round(task, round_number).result_hash), predicted)


@click.group()
def part() -> None:
    """Quality passports: each produced part linked to its signed sensor data and the machine's maintenance state."""


@part.command("record")
@click.argument("part_id", metavar="PART")
@as_option
@click.option("--machine", required=True, help="the machine that made the part (operated by your org)")
@click.option("--step", required=True, help="the process step, e.g. milling")
@click.option("--from", "start_ms", type=int, required=True, help="production start, epoch ms")
@click.option("--to", "end_ms", type=int, required=True, help="production end, epoch ms")
@click.option("--store", type=click.Path(path_type=Path), help="the gateway store holding the machine's data (default <home>/sensors/gateway.sqlite)")
@click.option("--model-task", type=int, help="the federated task whose model was in service")
@click.option("--model-round", type=int, help="its finalized round")
@click.option("--predicted-rul", type=float, help="the remaining life the model predicted at production time")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def part_record(app: App, part_id: str, as_: str, machine: str, step: str, start_ms: int, end_ms: int, store: Path | None,
                model_task: int | None, model_round: int | None, predicted_rul: float | None, as_json: bool) -> None:
    """Record a part from the verified sensor batches covering its production, keep the record, anchor its hash."""
    from fedpm.cli.sensors import sensor_checker
    from fedpm.maintenance.client import MaintenanceLog
    from fedpm.maintenance.store import RecordStore, record_store_path
    from fedpm.parts.build import make_record
    from fedpm.parts.client import PartRegistry

    gateway, parts = _stores(app, store, create=True)
    if (kept := parts.get(part_id)) is not None and kept.tx_hash:
        raise FedpmError(f"part {part_id} is already recorded here", hint="a part id is recorded once; give the new part its own id")
    records_path = record_store_path(app.settings.home)
    records = RecordStore(records_path) if records_path.exists() else None
    try:
        record = make_record(part_id, machine, step, start_ms, end_ms, gateway, sensor_checker(app), MaintenanceLog(app.ctx), records,
                             _model(app, model_task, model_round, predicted_rul))
    finally:
        if records is not None:
            records.close()
    parts.add(record)  # kept before anything is sent
    rcpt = PartRegistry(app.ctx).record_part(app.ctx.sender_for(as_), record.part, record.machine, record.hash)
    parts.mark_anchored(record.part, rcpt.tx_hash, rcpt.block_number)
    out = {"part": record.part, "record_hash": record.hash, "batches": len(record.batches), "readings": sum(b.summary.readings for b in record.batches),
           "maintenance": record.maintenance.to_json() if record.maintenance else None, "tx": rcpt.tx_hash, "block": rcpt.block_number}
    echo_json(out) if as_json else click.echo(f"part {record.part}: {out['batches']} batch(es), {out['readings']} signed readings, record {record.hash[:14]}… anchored in block {rcpt.block_number}")


@part.command("show")
@click.argument("part_id", metavar="PART")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def part_show(app: App, part_id: str, as_json: bool) -> None:
    """The part's record as kept here, and what the chain holds for it."""
    from fedpm.parts.client import PartRegistry
    from fedpm.parts.store import PartStore, part_store_path

    with PartStore(part_store_path(app.settings.home)) as parts:
        stored = _stored(parts, part_id)
    on_chain = PartRegistry(app.ctx).part(part_id)
    out = {"record": stored.record.to_json(), "record_hash": stored.record.hash, "tx": stored.tx_hash, "block": stored.block_number,
           "on_chain": None if on_chain is None else {"machine": on_chain.machine, "record_hash": on_chain.record_hash, "recorder": on_chain.recorder, "time": on_chain.time}}
    if as_json:
        echo_json(out)
        return
    r = stored.record
    same = on_chain is not None and on_chain.record_hash == r.hash
    click.echo(f"part {r.part}: {r.step} on {r.machine}, {r.start_ms}..{r.end_ms} ms, {len(r.batches)} batch(es); record {r.hash[:14]}… "
               + ("anchored" if same else "NOT as anchored" if on_chain else "not anchored"))


def _passport(app: App, part_id: str, store: Path | None, blocks: bool = True) -> dict:
    from fedpm.cli.sensors import sensor_checker
    from fedpm.parts.build import make_passport
    from fedpm.parts.client import PartRegistry

    gateway, parts = _stores(app, store)
    try:
        return make_passport(_stored(parts, part_id).record, gateway, sensor_checker(app), PartRegistry(app.ctx), blocks=blocks)
    finally:
        gateway.close()
        parts.close()


@part.command("passport")
@click.argument("part_id", metavar="PART")
@click.option("--store", type=click.Path(path_type=Path), help="the gateway store holding the part's sensor data")
@click.option("--no-blocks", is_flag=True, help="leave the signed blocks out (smaller; their signatures are then unchecked)")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write the passport JSON to this file")
@click.option("--json", "as_json", is_flag=True, help="print the passport JSON")
@pass_app
def part_passport(app: App, part_id: str, store: Path | None, no_blocks: bool, output: Path | None, as_json: bool) -> None:
    """The part's passport for its customer: the record, its batches' proofs and anchors, the signed blocks."""
    from ground.files import atomic_write

    passport = _passport(app, part_id, store, blocks=not no_blocks)
    if output is not None:
        atomic_write(output, json.dumps(passport, indent=1, sort_keys=True))
    if as_json:
        echo_json(passport)
    else:
        n = sum(len(b.get("blocks") or []) for b in passport["batches"])
        click.echo(f"passport of part {part_id}: record {passport['record_hash'][:14]}…, {len(passport['batches'])} batch(es), {n} signed blocks"
                   + (f", written to {output}" if output else " (--json or -o FILE to hand it over)"))


@part.command("verify")
@click.argument("part_id", metavar="PART", required=False)
@click.option("--passport", "passport_file", type=click.File("r"), help="verify a passport handed over ('-': stdin) instead of this home's record")
@click.option("--store", type=click.Path(path_type=Path), help="the gateway store holding the part's sensor data")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def part_verify(app: App, part_id: str | None, passport_file, store: Path | None, as_json: bool) -> None:
    """Verify a part's passport against the chain, element by element; exit 2 naming the first that fails."""
    from fedpm.parts.client import PassportChain
    from fedpm.parts.passport import PassportFailed, format_check, verify_passport

    if (part_id is None) == (passport_file is None):
        raise FedpmError("give a PART recorded here or --passport FILE", hint="e.g. fedpm part verify P-0001, or fedpm part verify --passport p.json")
    if passport_file is not None:
        try:
            passport = json.load(passport_file)
        except ValueError:
            raise PassportFailed("the passport is not JSON", hint="pass the file `fedpm part passport -o` wrote") from None
    else:
        passport = _passport(app, part_id, store)
    check = verify_passport(passport, PassportChain(app.ctx))
    echo_json(check.to_json()) if as_json else click.echo(format_check(check))
    if not check.ok:
        first = check.first_failure
        raise PassportFailed(f"passport of part {check.part} fails at {first.name}: {first.detail}", hint="the record or its data was altered, or is not anchored")
