"""Running the prediction service: everything it reads built from the settings, the follower thread, uvicorn.

`open_service(settings)` wires the service (chain, content store, gateway store, fleet file, journal, maintenance
records); `start_service(...)` serves it in a background thread (tests, the demo); `serve_forever(...)` is
`fedpm serve`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import uvicorn

from chain.connect import connect
from fedpm.hints import REVERT_HINTS
from fedpm.maintenance.store import RecordStore, record_store_path
from fedpm.models.choice import ChoiceLog, choice_log_path
from fedpm.models.registry import ModelRegistry
from fedpm.prognostics.alerts import Fleet
from fedpm.prognostics.journal import Journal, journal_path
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.feed import VerifiedFeed
from fedpm.sensors.store import gateway_store_path
from fedpm.service.app import create_app
from fedpm.service.engine import Follower, HealthService
from fedpm.settings import Settings
from fl_node.rounds import FederatedLearning
from fl_node.storage import open_store
from ground.errors import ConfigError


@dataclass
class Running:
    url: str
    service: HealthService
    stop: Callable[[], None]


def open_service(settings: Settings, *, log: Callable[[str], None] = lambda line: None) -> HealthService:
    cfg = settings.serve
    ctx = connect(settings, hints=REVERT_HINTS)
    registry = ModelRegistry(FederatedLearning(ctx), open_store(settings), retries=1)
    feed = VerifiedFeed(cfg.gateway_store or gateway_store_path(settings.home), SensorBatchRegistry(ctx))
    fleet = Fleet.load(cfg.fleet, cfg.default_class or None)
    records = RecordStore(record_store_path(settings.home))
    return HealthService(cfg.task, registry, ChoiceLog(choice_log_path(settings.home)), feed, fleet, Journal(journal_path(settings.home)), records, log=log)


def _server(service: HealthService, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(create_app(service), host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def start_service(settings: Settings, host: str = "127.0.0.1", port: int = 0, *, service: HealthService | None = None, poll: float | None = None,
                  log: Callable[[str], None] = lambda line: None) -> Running:
    """Serve in a background thread: the first refresh runs before the port opens; returns the URL and a stop()."""
    service = service or open_service(settings, log=log)
    line = service.refresh()
    if line:
        log(line)
    follower = Follower(service, settings.serve.poll_interval_s if poll is None else poll, log).start()
    server = _server(service, host, port)
    thread = threading.Thread(target=server.run, name="fedpm-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        follower.stop()
        raise ConfigError(f"the prediction service could not listen on {host}:{port}", hint="choose another port (serve.port)")
    bound = server.servers[0].sockets[0].getsockname()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        follower.stop()

    return Running(f"http://{bound[0]}:{bound[1]}", service, stop)


def serve_forever(settings: Settings, *, announce: Callable[[str], None] = print) -> None:
    """`fedpm serve`: until SIGINT/SIGTERM (uvicorn handles both)."""
    cfg = settings.serve
    service = open_service(settings, log=announce)
    line = service.refresh()
    if line:
        announce(line)
    follower = Follower(service, cfg.poll_interval_s, announce).start()
    announce(f"fedpm serve: task {cfg.task} at http://{cfg.host}:{cfg.port}  (OpenAPI at /docs, metrics at /metrics)")
    try:
        server = _server(service, cfg.host, cfg.port)
        server.run()
        if not server.started:
            raise ConfigError(f"cannot listen on {cfg.host}:{cfg.port}", hint="choose another --port (FEDPM_SERVE_PORT)")
    finally:
        follower.stop()
