"""`fedpm device run`, `fedpm simulate`, `fedpm gateway`, `fedpm verify`: sensor data signed at the source,
batched and anchored by a gateway that holds no device key, and proven one reading at a time."""

from __future__ import annotations

import csv
import json
import logging
import signal
import threading
import time
from pathlib import Path

import click

from fedpm.cli.app import App, as_option, echo_json, metrics_option, pass_app, start_metrics
from fedpm.cli.device import device
from ground.errors import FedpmError


def _store_path(app: App, store: Path | None) -> Path:
    from fedpm.sensors.store import gateway_store_path

    return store or gateway_store_path(app.settings.home)


def open_gateway_store(app: App, store: Path | None):
    """The gateway store to read: a missing file, or one that is no gateway store, is an error (GatewayStoreError),
    never a new empty store (only `fedpm gateway run` creates it)."""
    from fedpm.sensors.store import GatewayStore

    return GatewayStore(_store_path(app, store))


def _signing_domain(app: App, deployment: Path | None):
    """The deployment's signing domain, from its file: a device signs without a chain connection when it can."""
    from chain.deploy import Deployment
    from fedpm.sensors.signing import deployment_domain

    path = deployment or app.settings.chain.deployment_file
    if path is None:
        found = sorted(app.settings.deployments_dir.glob("*.json")) if app.settings.deployments_dir.is_dir() else []
        path = found[0] if len(found) == 1 else app.ctx.deployment_path
    return deployment_domain(Deployment.load(path))


def _devices(app: App, pairs: tuple[str, ...], dom) -> dict:
    """MACHINE=KEYSTORE pairs -> {machine: Device}; each device's seq continues from <home>/sensors/devices/."""
    from fedpm.sensors.device import Device, seq_file

    out = {}
    for pair in pairs:
        machine, sep, name = pair.partition("=")
        if not sep or not machine or not name:
            raise FedpmError(f"--device {pair!r} is not MACHINE=KEYSTORE", hint="e.g. --device factory-1-m1=device-1")
        account = app.keystore.load(name)
        out[machine] = Device.of(machine, account, dom, seq_file(app.settings.home, account.address))
    return out


def _publisher(app: App, host: str | None, port: int | None, client_id: str, devices: dict):
    from fedpm.sensors.simulate import Publisher

    return Publisher(host or app.settings.mqtt.host, port or app.settings.mqtt.port, client_id=client_id, topic_root=app.settings.mqtt.topic_root, devices=devices)


def sensor_checker(app: App):
    from fedpm.consortium.client import ConsortiumRegistry
    from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
    from fedpm.sensors.verify import Checker

    return Checker.of(SensorBatchRegistry(app.ctx), DeviceBindings(ConsortiumRegistry(app.ctx)))


# ---------------------------------------------------------------- the device


@device.command("run")
@click.option("--device", "keystore", required=True, metavar="KEYSTORE", help="the device key (an encrypted keystore)")
@click.option("--machine", required=True, help="the machine the device is bound to")
@click.option("--input", "source", type=click.File("r"), default="-", show_default=True, help="readings: CSV channel,ts_ms,value[,unit] or JSON lines")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--block", "block_size", type=int, default=100, show_default=True, help="readings per signed block")
@click.option("--out", type=click.File("wb"), help="write signed blocks to this file ('-': stdout) for `fedpm gateway ingest`, instead of MQTT")
@click.option("--deployment", type=click.Path(path_type=Path), help="deployment file to sign for (default: this home's)")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--client-id", help="MQTT client id (default fedpm-device-<address>)")
@pass_app
def device_run(app: App, keystore: str, machine: str, source, fmt: str, block_size: int, out, deployment: Path | None, host, port, client_id) -> None:
    """Read readings, sign each block with the device key at the source, publish it (MQTT) or write it (--out)."""
    from fedpm.sensors.device import Blocker, DeviceError, parse_csv_row, parse_json_line
    from fedpm.sensors.encoding import frame

    dev = _devices(app, (f"{machine}={keystore}",), _signing_domain(app, deployment))[machine]
    blocker = Blocker(block_size)
    pub = None if out is not None else _publisher(app, host, port, client_id or f"fedpm-device-{dev.address}", {machine: dev})
    sent = blocks = 0

    def emit(channel: str, unit: str, ts: list[int], values: list[float]) -> None:
        nonlocal sent, blocks
        if pub is not None:
            pub.publish(machine, channel, {"ts": ts, "values": values, "unit": unit})
        else:
            _, signed = dev.sign(channel, unit, ts, values)
            out.write(frame(signed))
        sent, blocks = sent + len(ts), blocks + 1

    rows = csv.reader(source) if fmt == "csv" else (line for line in source if line.strip())
    try:
        for n, row in enumerate(rows, 1):
            if fmt == "csv" and (not row or (n == 1 and row[0] == "channel")):
                continue
            try:
                channel, ts, value, unit = parse_csv_row(row, f"row {n}") if fmt == "csv" else parse_json_line(row, f"line {n}")
            except DeviceError as exc:
                raise FedpmError(f"{exc.message}; nothing after it was signed ({sent} readings in {blocks} blocks were)", hint=exc.hint) from None
            for b in blocker.add(channel, unit, ts, value):
                emit(*b)
        for b in blocker.flush():
            emit(*b)
        ok = True if pub is None else pub.wait_published(60)
    finally:
        if pub is not None:
            pub.close()
        else:
            out.flush()
            dev.close()
    summary = {"device": dev.address, "machine": machine, "readings": sent, "blocks": blocks, "next_seq": dev.seqs.next, "all_acknowledged": ok}
    click.echo(json.dumps(summary, sort_keys=True), err=out is not None and getattr(out, "name", "") in ("-", "<stdout>"))  # never into a block stream


# ---------------------------------------------------------------- the gateway


def _gateway(app: App, as_: str, store: Path | None, batch_size: int, max_age: float, anchor_interval: float, binding_ttl: float, **mqtt: object):
    from fedpm.consortium.client import ConsortiumRegistry
    from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
    from fedpm.sensors.gateway import Gateway, GatewayConfig

    ctx = app.ctx
    cfg = GatewayConfig(store_path=_store_path(app, store), batch_size=batch_size, max_age_s=max_age, anchor_interval_s=anchor_interval,
                        topic_root=app.settings.mqtt.topic_root, mqtt_host=app.settings.mqtt.host, mqtt_port=app.settings.mqtt.port)
    for k, v in mqtt.items():
        if v is not None:
            setattr(cfg, k, v)
    return Gateway(cfg, ctx.sender_for(as_), SensorBatchRegistry(ctx), DeviceBindings(ConsortiumRegistry(ctx), ttl_s=binding_ttl))


def gateway_options(f):
    f = click.option("--binding-ttl", type=float, default=30.0, show_default=True, help="seconds a device's binding read from the chain is trusted")(f)
    f = click.option("--anchor-interval", type=float, default=1.0, show_default=True, help="seconds between anchors while blocks keep coming")(f)
    f = click.option("--max-age", type=float, default=2.0, show_default=True, help="close a device's batch after this many seconds")(f)
    f = click.option("--batch-size", type=int, default=1000, show_default=True, help="readings per device batch")(f)
    f = click.option("--store", type=click.Path(path_type=Path), help="SQLite store (default <home>/sensors/gateway.sqlite)")(f)
    return as_option(f)


@click.group()
def gateway() -> None:
    """Check device-signed blocks, batch them and anchor one root per interval on chain (no device key here)."""


def _report(gw) -> dict:
    return {**gw.store.counts(), "refused": gw.counters()}


@gateway.command("run")
@gateway_options
@click.option("--host", help="MQTT broker host (default settings mqtt.host)")
@click.option("--port", type=int, help="MQTT broker port (default settings mqtt.port)")
@click.option("--client-id", default="fedpm-gateway", show_default=True)
@metrics_option
@pass_app
def gateway_run(app: App, as_: str, store, batch_size, max_age, anchor_interval, binding_ttl, host, port, client_id, metrics_at) -> None:
    """Subscribe to <root>/<machine>/<channel> over MQTT until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gw = _gateway(app, as_, store, batch_size, max_age, anchor_interval, binding_ttl, mqtt_host=host, mqtt_port=port, client_id=client_id)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    gw.start()
    stop_metrics = None
    if metrics_at is not None:
        from fedpm.sensors.metrics import gateway_metrics

        stop_metrics = start_metrics(gateway_metrics(gw), metrics_at)
    gw.connect_mqtt()
    click.echo(f"gateway: store {gw.config.store_path}, anchoring every {anchor_interval:g} s as {gw.sender.address}", err=True)
    done.wait()
    if stop_metrics is not None:
        stop_metrics()
    gw.stop()
    echo_json(_report(gw))


@gateway.command("ingest")
@gateway_options
@click.argument("file", type=click.File("rb"))
@pass_app
def gateway_ingest(app: App, as_, store, batch_size, max_age, anchor_interval, binding_ttl, file) -> None:
    """Take signed blocks from a file ('-': stdin) that `fedpm device run --out` wrote; check, batch and anchor them."""
    from fedpm.sensors.encoding import EncodingError, read_frame

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    gw = _gateway(app, as_, store, batch_size, max_age, anchor_interval, binding_ttl)
    gw.start()
    try:
        while (signed := read_frame(file)) is not None:
            gw.submit_block(signed)
    except EncodingError as exc:
        gw.request_flush()
        gw.wait_idle(timeout=600)
        gw.stop()
        raise FedpmError(f"{exc.message}; the blocks before it were taken", hint=exc.hint) from None
    gw.request_flush()
    if not gw.wait_idle(timeout=600):
        raise FedpmError("gateway did not finish anchoring within 600 s", hint="is the chain up?")
    gw.stop()
    echo_json(_report(gw))


@gateway.command("status")
@click.option("--store", type=click.Path(path_type=Path))
@pass_app
def gateway_status(app: App, store: Path | None) -> None:
    """Readings and batches by state, blocks refused by reason, and the device seqs never received (gaps)."""
    st = open_gateway_store(app, store)
    reception = st.reception()
    refused = st.refusals()
    echo_json({**st.counts(), "refused": refused, **reception})
    if any(refused.values()):
        click.echo("gateway: refused " + ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in refused.items() if n), err=True)
    if reception["gaps"]:
        shown = ", ".join(f"{g['machine']} device {g['device'][:10]}… seq {g['first']}" + (f"..{g['last']}" if g["last"] > g["first"] else "") for g in reception["gaps"][:10])
        click.echo(f"gateway: {reception['blocks_missing']} block(s) never received: {shown}{' ...' if len(reception['gaps']) > 10 else ''}", err=True)


# ---------------------------------------------------------------- simulated devices


@click.group()
def simulate() -> None:
    """Simulated devices: sign sensor streams at the source and publish them over MQTT."""


def device_option(f):
    return click.option("--device", "devices", multiple=True, required=True, metavar="MACHINE=KEYSTORE", help="a machine and its device key (repeat)")(f)


@simulate.command("vibration")
@click.option("--machine", "machines", multiple=True, required=True, metavar="MACHINE[=STATE]", help="machine and health state (healthy|degraded|critical|failure)")
@device_option
@click.option("--seconds", type=float, default=10.0, show_default=True)
@click.option("--fs", type=float, default=4096.0, show_default=True, help="vibration sampling rate (Hz)")
@click.option("--window", type=int, default=1024, show_default=True, help="samples per published window")
@click.option("--seed", type=int, default=0)
@click.option("--host")
@click.option("--port", type=int)
@click.option("--client-id", default="fedpm-simulator", show_default=True)
@pass_app
def simulate_vibration(app: App, machines, devices, seconds, fs, window, seed, host, port, client_id) -> None:
    """Bearing vibration (BPFO/BPFI defects by state), temperature and motor current per machine."""
    from fedpm.sensors.simulate import run_vibration

    states = {}
    for m in machines:
        name, _, state = m.partition("=")
        states[name] = state or "healthy"
    keys = _devices(app, devices, _signing_domain(app, None))
    if missing := sorted(set(states) - set(keys)):
        raise FedpmError(f"no --device for machine(s) {', '.join(missing)}", hint="give each simulated machine its device key: --device MACHINE=KEYSTORE")
    pub = _publisher(app, host, port, client_id, keys)
    try:
        sent = run_vibration(pub, states, seconds, fs=fs, window=window, seed=seed)
        ok = pub.wait_published(60)
    finally:
        pub.close()
    echo_json({"readings": sent, "all_acknowledged": ok})


@simulate.command("cmapss")
@click.option("--file", "path", type=click.Path(exists=True, path_type=Path), required=True, help="C-MAPSS train_FD00x.txt")
@click.option("--engine", "engines", multiple=True, required=True, metavar="UNIT=MACHINE", help="replay engine UNIT as MACHINE (repeat)")
@device_option
@click.option("--cycle-ms", type=int, default=1000, show_default=True, help="time between cycles in the readings' timestamps")
@click.option("--rate", type=float, default=0.0, help="cycles per second to publish (0: as fast as possible)")
@click.option("--max-cycles", type=int)
@click.option("--block", type=int, default=10, show_default=True, help="cycles per signed block (each channel its own block)")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--client-id", default="fedpm-cmapss", show_default=True)
@pass_app
def simulate_cmapss(app: App, path, engines, devices, cycle_ms, rate, max_cycles, block, host, port, client_id) -> None:
    """Replay C-MAPSS rows as readings: one engine per machine, 3 settings + 21 sensors per cycle."""
    from fedpm.sensors.simulate import run_cmapss

    mapping = {}
    for e in engines:
        unit, sep, machine = e.partition("=")
        if not sep or not unit.isdigit():
            raise FedpmError(f"--engine {e!r} is not UNIT=MACHINE", hint="e.g. --engine 1=factory-1-m1")
        mapping[int(unit)] = machine
    keys = _devices(app, devices, _signing_domain(app, None))
    if missing := sorted(set(mapping.values()) - set(keys)):
        raise FedpmError(f"no --device for machine(s) {', '.join(missing)}", hint="give each replayed machine its device key: --device MACHINE=KEYSTORE")
    pub = _publisher(app, host, port, client_id, keys)
    try:
        sent = run_cmapss(pub, path, mapping, int(time.time() * 1000), cycle_ms=cycle_ms, max_cycles=max_cycles, rate=rate, block=block)
        ok = pub.wait_published(60)
    finally:
        pub.close()
    echo_json({"readings": sent, "all_acknowledged": ok})


# ---------------------------------------------------------------- verification


@click.group()
def verify() -> None:
    """Prove stored sensor data: device signatures, bindings, Merkle proofs, anchors on chain."""


@verify.command("batch")
@click.option("--machine")
@click.option("--store", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def verify_batch(app: App, machine, store, as_json) -> None:
    """Check every stored batch (each block's signature, the root, the binding, the anchor); exit 2 on any failure."""
    from fedpm.sensors.verify import VerificationFailed, check_batches, format_batch_checks

    st = open_gateway_store(app, store)
    checks = check_batches(st, st.batches(machine=machine), sensor_checker(app))
    echo_json([c.to_json() for c in checks]) if as_json else click.echo(format_batch_checks(checks))
    bad = [c for c in checks if not c.ok]
    if bad:
        first = bad[0]
        where = f" at block position {first.positions[0]}" if first.positions else ""
        raise VerificationFailed(f"{len(bad)} batch(es) fail verification; first: {first.machine} seq {first.first_seq}..{first.last_seq} {first.status}{where}",
                                 hint="the local store was altered, or holds data its devices did not sign")


@verify.command("reading")
@click.option("--machine", help="the machine whose reading to prove")
@click.option("--seq", type=int, help="the device's block sequence number")
@click.option("--index", type=int, help="the reading's position in the block")
@click.option("--device", "device_", help="the device address (when the machine has had more than one)")
@click.option("--store", type=click.Path(path_type=Path))
@click.option("--proof", "proof_file", type=click.File("r"), help="check a proof someone handed over instead of the store ('-': stdin)")
@pass_app
def verify_reading(app: App, machine, seq, index, device_, store, proof_file) -> None:
    """Prove one reading: its device's signature (origin) and its Merkle path to an anchored root (inclusion)."""
    from fedpm.sensors.verify import VerificationFailed, check_reading_proof, reading_proof

    st = None
    if proof_file is None:
        if machine is None or seq is None or index is None:
            raise FedpmError("give --machine, --seq and --index (or --proof FILE)", hint="e.g. --machine factory-1-m1 --seq 4 --index 17")
        st = open_gateway_store(app, store)  # first: a wrong --store is named before the chain is asked anything
    checker = sensor_checker(app)
    if proof_file is not None:
        try:
            proof = json.load(proof_file)
        except ValueError:
            raise VerificationFailed("the proof is not JSON", hint="pass the JSON `fedpm verify reading` prints") from None
    else:
        batch = st.batch_of_block(machine, seq, device_)
        if batch is None:
            raise FedpmError(f"no stored batch holds block {seq} of {machine}", hint="list batches with `fedpm verify batch`")
        proof = reading_proof(st, batch, seq, index, checker)
    result = check_reading_proof(proof, checker)
    echo_json(result.to_json())
    if not result.ok:
        raise VerificationFailed(f"the reading does not verify: {result.detail}", hint="the block was altered, or its device did not sign it")
