"""Federated learning commands: `fedpm task …`, `fedpm round …`, `fedpm node …`, `fedpm evaluate`."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import click

from fedpm.cli.app import ID, App, as_option, echo_json, metrics_option, pass_app, start_metrics
from fedpm.cli.maintenance import audit
from ground.errors import FedpmError
from ground.ids import hex0x


def _fl(app: App):
    from fl_node.rounds import FederatedLearning

    return FederatedLearning(app.ctx)


def _store(app: App):
    from fl_node.storage import open_store

    return open_store(app.settings)


def _addresses(app: App, names: str) -> list[str]:
    return [app.address_of(n.strip()) for n in names.split(",") if n.strip()]


def _log(prefix: str):
    return lambda line: click.echo(f"[{prefix}] {line}", err=False)


# ---------------------------------------------------------------- task


@click.group()
def task() -> None:
    """Federated learning tasks (spec, creation, status)."""


@task.command("spec")
@click.option("--stats", "stats_files", multiple=True, required=True, type=click.Path(exists=True, path_type=Path), help="each factory's `fedpm node stats` output (repeat)")
@click.option("--window", type=int, default=None, help="cycles per training window (default: the tuned cmapss.WINDOW)")
@click.option("--epochs", type=int, default=2, show_default=True, help="local epochs per round")
@click.option("--rule", default="fedavg", show_default=True, help="aggregation rule: fedavg, median, trimmed_mean, krum")
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True)
def task_spec(stats_files: tuple[Path, ...], window: int | None, epochs: int, rule: str, output: Path) -> None:
    """Build a task spec whose normalization combines the factories' sufficient statistics (no raw data)."""
    from tasks.rul import cmapss
    from tasks.rul.experiment import make_spec
    from tasks.stats import Stats, combine_stats

    window = cmapss.WINDOW if window is None else window
    stats = combine_stats([Stats.from_dict(json.loads(p.read_text())) for p in stats_files])
    norm = cmapss.normalization_from_stats(stats, cmapss.select_features(stats), "minmax")
    spec = make_spec(norm, window, train={"epochs": epochs}, aggregation={"rule": rule, "params": {}})
    output.write_text(json.dumps(spec.to_json(), indent=2, sort_keys=True))
    click.echo(f"wrote {output}")


@task.command("create")
@as_option
@click.option("--spec", "spec_file", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--initial-model", type=click.Path(exists=True, path_type=Path), help="canonical .safetensors (default: fresh weights from the spec)")
@click.option("--trainers", required=True, help="comma-separated keystore names or addresses")
@click.option("--aggregators", required=True, help="comma-separated keystore names or addresses")
@click.option("--rounds", type=int, default=5, show_default=True)
@click.option("--min-participants", type=int, default=1, show_default=True)
@click.option("--commit-window", type=int, default=600, show_default=True, help="seconds")
@click.option("--aggregation-window", type=int, default=600, show_default=True, help="seconds")
@click.option("--quorum", type=int, default=0, help="votes to finalize (default ceil(2n/3))")
@click.option("--max-samples", type=click.IntRange(min=1), help="most samples one trainer's update may claim (default 100000)")
@click.option("--seed", type=int, default=0, show_default=True)
@pass_app
def task_create(app: App, as_: str, spec_file: Path, initial_model: Path | None, trainers: str, aggregators: str, rounds: int,
                min_participants: int, commit_window: int, aggregation_window: int, quorum: int, max_samples: int | None, seed: int) -> None:
    """Pin the spec and initial model and create the task on chain; prints the task id."""
    from fl_node.coordinator import publish_task
    from fl_node.rounds import DEFAULT_MAX_SAMPLES
    from fl_node.modelfile import load_model
    from tasks.registry import load_spec_file

    spec = load_spec_file(spec_file)  # the spec and its rule are checked before anything touches the chain
    trainer_addresses = _addresses(app, trainers)
    spec.check_trainers(len(trainer_addresses))
    if initial_model:
        initial, _ = load_model(initial_model)
    else:
        from tasks import model as M

        initial = M.get_weights(M.build_model(spec, seed=seed))
    task_id = publish_task(_fl(app), app.ctx.sender_for(as_), _store(app), spec, initial, trainers=trainer_addresses,
                           aggregators=_addresses(app, aggregators), rounds=rounds, min_participants=min_participants,
                           commit_window=commit_window, aggregation_window=aggregation_window, quorum=quorum,
                           max_samples=max_samples or DEFAULT_MAX_SAMPLES)
    click.echo(task_id)


@task.command("show")
@click.option("--task", "task_id", type=ID, required=True)
@pass_app
def task_show(app: App, task_id: int) -> None:
    t = _fl(app).task(task_id)
    echo_json({"task": task_id, "coordinator": t.coordinator, "rounds": t.rounds, "started": t.rounds_started, "finalized": t.rounds_finalized,
               "quorum": t.quorum, "max_samples": t.max_samples, "model_hash": hex0x(t.model_hash), "model_cid": t.model_cid, "trainers": list(t.trainers), "aggregators": list(t.aggregators)})


# ---------------------------------------------------------------- round


@click.group("round")
def round_() -> None:
    """Rounds of a federated task."""


@round_.command("open")
@as_option
@click.option("--task", "task_id", type=ID, required=True)
@click.option("--wait", is_flag=True, help="block until the round is finalized or failed")
@pass_app
def round_open(app: App, as_: str, task_id: int, wait: bool) -> None:
    """Open the next round from the current global model (coordinator only)."""
    from fl_node.coordinator import wait_round
    from fl_node.rounds import RoundState

    fl = _fl(app)
    r = fl.open_round(app.ctx.sender_for(as_), task_id)
    click.echo(f"opened round {r} of task {task_id}")
    if wait:
        view = wait_round(fl, task_id, r, poll=app.settings.chain.poll_interval_s, on_change=lambda v: click.echo(f"  {v.state.name.lower():<11} commits={v.commits} votes={v.votes}", err=True))
        if view.state == RoundState.FAILED:  # no model to show: say why, and the round's participants
            from fl_node.coordinator import round_report

            rep = round_report(fl, task_id, r)
            raise FedpmError(f"round {r} of task {task_id} failed: {rep.failure or 'no reason recorded'} "
                             f"({len(rep.participants)} update(s), {len(rep.votes)} vote(s))",
                             hint=f"see `fedpm round status --task {task_id} --round {r}`; open the next round when the trainers and aggregators run")
        click.echo(f"round {r} {view.state.name.lower()}: model {view.result_hash.hex()[:16]} {view.result_cid}")


@round_.command("status")
@click.option("--task", "task_id", type=ID, required=True)
@click.option("--round", "r", type=ID, help="default: the current round")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def round_status(app: App, task_id: int, r: int | None, as_json: bool) -> None:
    """What the chain says about a round: participants, votes, result, exclusions, dissent."""
    from fl_node.coordinator import round_report

    fl = _fl(app)
    rep = round_report(fl, task_id, r or fl.task(task_id).rounds_started)
    if as_json:
        echo_json(asdict(rep))
        return
    click.echo(f"round {rep.round}: {rep.state}  model={rep.model_hash[:18]} {rep.model_cid}")
    for t in rep.participants:
        click.echo(f"  trainer    {t}  loss={rep.losses[t]:.4f}  gas={rep.gas_commit[t]}")
    for a, h in rep.votes.items():
        click.echo(f"  aggregator {a}  voted={h[:18]}  gas={rep.gas_vote[a]}{'  DISSENT' if a in rep.dissenters else ''}")
    for t in rep.excluded:
        click.echo(f"  excluded   {t}")
    if rep.failure:
        click.echo(f"  failed: {rep.failure}")


# ---------------------------------------------------------------- node


@click.group()
def node() -> None:
    """Run a factory (trainer) or aggregator node."""


@node.command("stats")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="this factory's C-MAPSS-format file")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="default: stdout")
def node_stats(data: Path, output: Path | None) -> None:
    """Sufficient statistics of local data (counts, sums, min/max): all a factory shares for normalization."""
    from tasks.rul import cmapss

    text = json.dumps(cmapss.local_stats(cmapss.load_file(data)).to_dict(), sort_keys=True)
    if output:
        output.write_text(text)
    else:
        click.echo(text)


def _node_common(f):
    f = click.option("--task", "task_id", type=ID, required=True)(f)
    f = click.option("--workdir", type=click.Path(path_type=Path), help="where the node keeps its work (default <home>/nodes/ACCOUNT)")(f)
    f = click.option("--poll", type=float, help="seconds between chain polls (default: setting chain.poll_interval_s)")(f)
    f = click.option("--once", is_flag=True, help="do at most one step and exit")(f)
    f = metrics_option(f)
    return as_option(f)


def _listed(app: App, fl, task_id: int, as_: str, role: str):  # noqa: ANN001, ANN202 - FederatedLearning -> TaskView
    """The task, once `--as` is one of its `role`s ("trainer" or "aggregator"): a node of another account would only
    watch, so it is refused with the reason instead of printing "nothing to do"."""
    task = fl.task(task_id)
    me = app.keystore.address(as_)
    if me not in (task.trainers if role == "trainer" else task.aggregators):
        raise FedpmError(f"account {as_} ({me}) is not a {role} of task {task_id}",
                         hint=f"run the node --as an account the task lists as {role} (fedpm task show --task {task_id}); its coordinator chose them at `fedpm task create`")
    return task


def _start_line(app: App, as_: str, role: str, task, workdir: Path) -> None:  # noqa: ANN001 - TaskView
    """What a node watches and where, before its first round."""
    click.echo(f"[{as_}] {role} of task {task.task_id} ({task.rounds_finalized}/{task.rounds} rounds finalized, {len(task.trainers)} trainers, "
               f"{len(task.aggregators)} aggregators) on {app.ctx.w3.provider.endpoint_uri}; store {app.settings.storage.backend}; work {workdir}")


def _run(app: App, node_obj, once: bool, poll: float | None, metrics_at: tuple[str, int] | None) -> None:
    if once:
        line = node_obj.step()
        click.echo(line or "nothing to do")
        return
    stop = None
    if metrics_at is not None:
        from fedpm.node_metrics import NodeMetrics

        node_obj.events = NodeMetrics()
        stop = start_metrics(node_obj.events.metrics, metrics_at)
    try:
        node_obj.run(poll=app.settings.chain.poll_interval_s if poll is None else poll)
    finally:
        if stop is not None:
            stop()


@node.command("train")
@_node_common
@click.option("--data", type=click.Path(path_type=Path), help="local training data (C-MAPSS format)")
@click.option("--gateway-store", type=click.Path(path_type=Path), help="or: the gateway's store; trains on anchored, verified readings")
@click.option("--machine", "machines", multiple=True, help="with --gateway-store: machines whose readings to use (repeat)")
@click.option("--seed", type=int, default=0, show_default=True)
@pass_app
def node_train(app: App, as_: str, task_id: int, workdir: Path | None, poll: float | None, once: bool, metrics_at: tuple[str, int] | None,
               data: Path | None, gateway_store: Path | None, machines: tuple[str, ...], seed: int) -> None:
    """Watch the task; when a round opens, train locally, pin the update, commit its hash."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: its C++ start-up chatter is noise in a node's log
    from fedpm.cli.sensors import sensor_checker
    from fedpm.sensors.cmapss_source import GatewayData
    from fl_node.nodes import TrainerNode
    from tasks.registry import KINDS, trainer_for
    from tasks.rul.trainer import CmapssEngines

    if (data is None) == (gateway_store is None):
        raise FedpmError("give exactly one of --data and --gateway-store", hint="--data FILE, or --gateway-store PATH --machine M")
    if data is not None and not data.is_file():
        raise FedpmError(f"data file {data} does not exist", hint="pass this factory's C-MAPSS-format file with --data")
    if gateway_store is not None and not (gateway_store.is_file() and machines):
        raise FedpmError(f"gateway store {gateway_store} missing or no --machine given", hint="--gateway-store PATH --machine M [--machine M2]")
    # local data is read and checked now, not when the first round opens
    source = CmapssEngines.from_file(data) if data is not None else GatewayData(gateway_store, sensor_checker(app), machines)
    fl, workdir = _fl(app), workdir or app.settings.home / "nodes" / as_
    _start_line(app, as_, "trainer", _listed(app, fl, task_id, as_, "trainer"), workdir)
    trainer = TrainerNode(fl, app.ctx.sender_for(as_), _store(app), task_id, workdir, log=_log(as_), retries=app.settings.storage.retries,
                          kinds=KINDS, trainer_for=lambda spec: trainer_for(spec, source), seed=seed,
                          lineage=source.lineage if isinstance(source, GatewayData) else None)
    _run(app, trainer, once, poll, metrics_at)


@node.command("aggregate")
@_node_common
@click.option("--byzantine", is_flag=True, hidden=True, help="demonstration: vote a perturbed aggregate")
@pass_app
def node_aggregate(app: App, as_: str, task_id: int, workdir: Path | None, poll: float | None, once: bool, metrics_at: tuple[str, int] | None,
                   byzantine: bool) -> None:
    """Watch the task; when commits close, fetch and check every update, aggregate, pin, vote."""
    from fl_node.nodes import AggregatorNode

    fl, workdir = _fl(app), workdir or app.settings.home / "nodes" / as_
    _start_line(app, as_, "aggregator", _listed(app, fl, task_id, as_, "aggregator"), workdir)
    agg = AggregatorNode(fl, app.ctx.sender_for(as_), _store(app), task_id, workdir, log=_log(as_), retries=app.settings.storage.retries,
                         byzantine=byzantine)
    _run(app, agg, once, poll, metrics_at)


# ---------------------------------------------------------------- evaluate


@click.command()
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path), help="canonical .safetensors model")
@click.option("--test", "test_file", required=True, type=click.Path(path_type=Path), help="C-MAPSS test file")
@click.option("--rul", "rul_file", required=True, type=click.Path(path_type=Path), help="true RUL per test engine")
@click.option("--json", "as_json", is_flag=True)
def evaluate(model_path: Path, test_file: Path, rul_file: Path, as_json: bool) -> None:
    """RMSE and PHM08 score of a model on the standard C-MAPSS test protocol."""
    from tasks.rul.evaluate import evaluate as run_eval

    result = run_eval(model_path, test_file, rul_file)
    if as_json:
        click.echo(json.dumps({"rmse": result["rmse"], "score": result["score"]}))
    else:
        click.echo(f"RMSE {result['rmse']:.3f}   PHM08 score {result['score']:.1f}")
    sys.stdout.flush()


# ---------------------------------------------------------------- lineage


@audit.command("lineage")
@click.option("--task", "task_id", type=ID, required=True)
@click.option("--round", "round_number", type=ID, help="the model version: a finalized round (default the task's latest finalized)")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_lineage(app: App, task_id: int, round_number: int | None, as_json: bool) -> None:
    """Was a model version trained only on device-signed, anchored data, and on which machines' data? Exit 2 if not."""
    from fedpm.cli.sensors import sensor_checker
    from fedpm.sensors.lineage import audit_model, format_model_lineage
    from fedpm.sensors.verify import VerificationFailed

    fl = _fl(app)
    if round_number is None:
        round_number = _latest_finalized(fl, task_id)
    report = audit_model(fl, task_id, round_number, _store(app), sensor_checker(app))
    echo_json(report.to_json()) if as_json else click.echo(format_model_lineage(report))
    if not report.ok:
        bad = next(c for checks in report.updates.values() for c in checks if not c.ok)
        raise VerificationFailed(f"model of task {task_id} round {round_number} was not trained only on device-signed, anchored data: {bad.trainer}: {bad.detail}",
                                 hint="train with `fedpm node train --gateway-store` on anchored data")


def _latest_finalized(fl, task_id: int) -> int:  # noqa: ANN001 - FederatedLearning
    from fl_node.rounds import RoundState

    task = fl.task(task_id)
    for r in range(task.rounds_started, 0, -1):
        if fl.round(task_id, r).state == RoundState.FINALIZED:
            return r
    raise FedpmError(f"task {task_id} has no finalized round yet", hint="audit a model once a round finalized (fedpm round status)")
