"""`fedpm gateway`, `fedpm simulate`, `fedpm verify`: signed sensor batches anchored on chain."""

from __future__ import annotations

import csv
import hashlib
import logging
import signal
import sys
import threading
import time
from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, metrics_option, pass_app, start_metrics
from ground.errors import FedpmError


def _store_path(app: App, store: Path | None) -> Path:
    from fedpm.sensors.store import gateway_store_path

    return store or gateway_store_path(app.settings.home)


def _publisher(app: App, host: str | None, port: int | None, client_id: str):
    """A publisher whose per-machine sequence numbers continue across runs (kept under <home>/sensors/)."""
    from fedpm.sensors.simulate import Publisher

    return Publisher(host or app.settings.mqtt.host, port or app.settings.mqtt.port, client_id=client_id, topic_root=app.settings.mqtt.topic_root,
                     seq_file=app.settings.home / "sensors" / f"publisher-{client_id}.seq.json")


def _device_map(app: App, pairs: tuple[str, ...]) -> dict:
    devices = {}
    for pair in pairs:
        machine, sep, name = pair.partition("=")
        if not sep or not machine or not name:
            raise FedpmError(f"--device {pair!r} is not MACHINE=KEYSTORE", hint="e.g. --device factory-1-m1=device-1")
        devices[machine] = app.ctx.keystore.load(name)
    if not devices:
        raise FedpmError("no --device given", hint="name each machine's device keystore: --device factory-1-m1=device-1")
    return devices


def _gateway(app: App, as_: str, devices: tuple[str, ...], store: Path | None, batch_size: int, max_age: float, **mqtt: object):
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.gateway import Gateway, GatewayConfig

    ctx = app.ctx
    cfg = GatewayConfig(store_path=_store_path(app, store), devices=_device_map(app, devices), batch_size=batch_size, max_age_s=max_age,
                        topic_root=app.settings.mqtt.topic_root, mqtt_host=app.settings.mqtt.host, mqtt_port=app.settings.mqtt.port)
    for k, v in mqtt.items():
        if v is not None:
            setattr(cfg, k, v)
    return Gateway(cfg, ctx.sender_for(as_), SensorBatchRegistry(ctx), ctx.w3.eth.chain_id)


def gateway_options(f):
    f = click.option("--max-age", type=float, default=2.0, show_default=True, help="close a batch after this many seconds")(f)
    f = click.option("--batch-size", type=int, default=1000, show_default=True, help="readings per batch")(f)
    f = click.option("--store", type=click.Path(path_type=Path), help="SQLite store (default <home>/sensors/gateway.sqlite)")(f)
    f = click.option("--device", "devices", multiple=True, metavar="MACHINE=KEYSTORE", help="a machine and its device key (repeat)")(f)
    return as_option(f)


@click.group()
def gateway() -> None:
    """Sign sensor readings in batches with device keys and anchor them on chain."""


@gateway.command("run")
@gateway_options
@click.option("--host", help="MQTT broker host (default settings mqtt.host)")
@click.option("--port", type=int, help="MQTT broker port (default settings mqtt.port)")
@click.option("--client-id", default="fedpm-gateway", show_default=True)
@metrics_option
@pass_app
def gateway_run(app: App, as_: str, devices, store, batch_size, max_age, host, port, client_id, metrics_at) -> None:
    """Subscribe to <root>/<machine>/<channel> over MQTT until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gw = _gateway(app, as_, devices, store, batch_size, max_age, mqtt_host=host, mqtt_port=port, client_id=client_id)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    gw.start()
    stop_metrics = None
    if metrics_at is not None:
        from fedpm.sensors.metrics import gateway_metrics

        stop_metrics = start_metrics(gateway_metrics(gw), metrics_at)
    gw.connect_mqtt()
    click.echo(f"gateway: {len(gw.config.devices)} machine(s), store {gw.config.store_path}", err=True)
    done.wait()
    if stop_metrics is not None:
        stop_metrics()
    gw.stop()
    echo_json({**gw.store.counts(), **gw.counters()})


def _ingest_lines(app: App, gw, rows, parse) -> None:
    from fedpm.sensors.ingest import MalformedPayload

    gw.start()
    for n, row in enumerate(rows):
        try:
            machine, channel, parsed = parse(row)
        except MalformedPayload as exc:
            gw.malformed += 1
            logging.getLogger("fedpm.sensors.gateway").warning("line %d dropped: %s", n + 1, exc.message)
            continue
        gw.submit_parsed(parsed, hashlib.blake2b(f"{machine}/{channel}/{n}".encode() + parsed.records, digest_size=16).digest())
    gw.request_flush()
    if not gw.wait_idle(timeout=600):
        raise FedpmError("gateway did not finish anchoring within 600 s", hint="is the chain up?")
    gw.stop()
    echo_json({**gw.store.counts(), **gw.counters()})


@gateway.command("csv")
@gateway_options
@click.argument("file", type=click.File("r"))
@pass_app
def gateway_csv(app: App, as_, devices, store, batch_size, max_age, file) -> None:
    """Ingest a CSV file (machine,channel,ts_ms,value[,unit]; '-' for stdin), sign and anchor it."""
    from fedpm.sensors.ingest import parse_csv_row

    rows = (r for r in csv.reader(file) if r and r[0] != "machine")
    _ingest_lines(app, _gateway(app, as_, devices, store, batch_size, max_age), rows, parse_csv_row)


@gateway.command("stdin")
@gateway_options
@pass_app
def gateway_stdin(app: App, as_, devices, store, batch_size, max_age) -> None:
    """Ingest JSON lines from stdin ({"machine","channel","ts","value","unit"}), sign and anchor them."""
    from fedpm.sensors.ingest import parse_json_line

    _ingest_lines(app, _gateway(app, as_, devices, store, batch_size, max_age), (line for line in sys.stdin if line.strip()), parse_json_line)


@gateway.command("status")
@click.option("--store", type=click.Path(path_type=Path))
@pass_app
def gateway_status(app: App, store: Path | None) -> None:
    """Counts of pending, signed and anchored readings and batches, and the sequenced blocks never received (gaps)."""
    from fedpm.sensors.store import GatewayStore

    st = GatewayStore(_store_path(app, store))
    reception = st.reception()
    echo_json({**st.counts(), **st.stats(), **reception})
    if reception["gaps"]:
        shown = ", ".join(f"{g['machine']} from {g['src']} seq {g['first']}" + (f"..{g['last']}" if g["last"] > g["first"] else "") for g in reception["gaps"][:10])
        click.echo(f"gateway: {reception['blocks_missing']} block(s) never received: {shown}{' ...' if len(reception['gaps']) > 10 else ''}", err=True)


@click.group()
def simulate() -> None:
    """Publish simulated sensor streams over MQTT."""


@simulate.command("vibration")
@click.option("--machine", "machines", multiple=True, required=True, metavar="MACHINE[=STATE]", help="machine and health state (healthy|degraded|critical|failure)")
@click.option("--seconds", type=float, default=10.0, show_default=True)
@click.option("--fs", type=float, default=4096.0, show_default=True, help="vibration sampling rate (Hz)")
@click.option("--window", type=int, default=1024, show_default=True, help="samples per published window")
@click.option("--seed", type=int, default=0)
@click.option("--host")
@click.option("--port", type=int)
@click.option("--client-id", default="fedpm-simulator", show_default=True, help="publisher id (src of its blocks' sequence numbers)")
@pass_app
def simulate_vibration(app: App, machines, seconds, fs, window, seed, host, port, client_id) -> None:
    """Bearing vibration (BPFO/BPFI defects by state), temperature and motor current per machine."""
    from fedpm.sensors.simulate import run_vibration

    states = {}
    for m in machines:
        name, _, state = m.partition("=")
        states[name] = state or "healthy"
    pub = _publisher(app, host, port, client_id)
    sent = run_vibration(pub, states, seconds, fs=fs, window=window, seed=seed)
    ok = pub.wait_published(60)
    pub.close()
    echo_json({"readings": sent, "all_acknowledged": ok})


@simulate.command("cmapss")
@click.option("--file", "path", type=click.Path(exists=True, path_type=Path), required=True, help="C-MAPSS train_FD00x.txt")
@click.option("--engine", "engines", multiple=True, required=True, metavar="UNIT=MACHINE", help="replay engine UNIT as MACHINE (repeat)")
@click.option("--cycle-ms", type=int, default=1000, show_default=True, help="time between cycles in the readings' timestamps")
@click.option("--rate", type=float, default=0.0, help="cycles per second to publish (0: as fast as possible)")
@click.option("--max-cycles", type=int)
@click.option("--host")
@click.option("--port", type=int)
@click.option("--client-id", default="fedpm-cmapss", show_default=True, help="publisher id (src of its blocks' sequence numbers)")
@pass_app
def simulate_cmapss(app: App, path, engines, cycle_ms, rate, max_cycles, host, port, client_id) -> None:
    """Replay C-MAPSS rows as readings: one engine per machine, 3 settings + 21 sensors per cycle."""
    from fedpm.sensors.simulate import cmapss_messages

    mapping = {}
    for e in engines:
        unit, sep, machine = e.partition("=")
        if not sep or not unit.isdigit():
            raise FedpmError(f"--engine {e!r} is not UNIT=MACHINE", hint="e.g. --engine 1=factory-1-m1")
        mapping[int(unit)] = machine
    pub = _publisher(app, host, port, client_id)
    last_ts = None
    for machine, channel, payload in cmapss_messages(path, mapping, int(time.time() * 1000), cycle_ms, max_cycles):
        if rate and last_ts is not None and payload["ts"] != last_ts:
            time.sleep(1.0 / rate)
        last_ts = payload["ts"]
        pub.publish(machine, channel, payload)
    ok = pub.wait_published(60)
    pub.close()
    echo_json({"readings": pub.sent, "all_acknowledged": ok})


@click.group()
def verify() -> None:
    """Check stored sensor batches and readings against the chain."""


@verify.command("batch")
@click.option("--machine")
@click.option("--store", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def verify_batch(app: App, machine, store, as_json) -> None:
    """Recompute every stored batch's root and compare with the chain; exit 2 on any mismatch."""
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.store import GatewayStore
    from fedpm.sensors.verify import VerificationFailed, check_batch, format_batch_checks

    st = GatewayStore(_store_path(app, store))  # first: a wrong --store is named before the chain is asked anything
    registry = SensorBatchRegistry(app.ctx)
    checks = [check_batch(b, registry) for b in st.batches(machine=machine)]
    echo_json([c.to_json() for c in checks]) if as_json else click.echo(format_batch_checks(checks))
    bad = [c for c in checks if not c.ok]
    if bad:
        first = bad[0]
        where = f" at position {first.positions[0]}" if first.positions else ""
        raise VerificationFailed(f"{len(bad)} batch(es) fail verification; first: {first.machine} seq {first.seq} {first.status}{where}", hint="the local store was altered or is not the one that anchored")


@verify.command("reading")
@click.option("--machine", required=True)
@click.option("--seq", type=int, required=True, help="the batch's device sequence number")
@click.option("--index", type=int, required=True, help="the reading's position in the batch")
@click.option("--store", type=click.Path(path_type=Path))
@pass_app
def verify_reading(app: App, machine, seq, index, store) -> None:
    """Prove one stored reading against the anchored root (locally and with the contract's view)."""
    from fedpm.sensors.client import SensorBatchRegistry
    from fedpm.sensors.store import GatewayStore
    from fedpm.sensors.verify import VerificationFailed, check_reading

    st = GatewayStore(_store_path(app, store))
    batch = st.batch(machine, seq)
    if batch is None:
        raise FedpmError(f"no stored batch {machine} seq {seq}", hint="list batches with `fedpm verify batch`")
    result = check_reading(batch, index, SensorBatchRegistry(app.ctx))
    echo_json(result.to_json())
    if not result.ok:
        raise VerificationFailed(f"reading {index} of {machine} seq {seq} does not verify against the anchored root", hint="the stored reading was altered")
