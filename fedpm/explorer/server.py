"""The explorer's HTTP server (stdlib `http.server`): HTML pages and a small JSON API.

    GET /                      machines (HTML)          GET /api/machines        the same as JSON
    GET /machines/<id>         one machine's sections   GET /api/machines/<id>   the same as JSON
    GET /leases                every machine lease      GET /api/leases          the same as JSON
    GET /fl                    federated learning tasks GET /api/fl              the same as JSON
                               and their rounds
    GET /fleet                 fleet health, most       GET /api/fleet           the same as JSON
                               urgent first (the prediction service's journal)
    GET /parts                 every recorded part      GET /api/parts           the same as JSON
    GET /parts/<id>            one part's passport,     GET /api/parts/<id>      the same as JSON
                               verified element by element

Each request opens its own chain connection, so the explorer recovers when the node comes back. A node that
does not answer, a chain with nothing deployed, or an unknown machine give a clear page (or JSON
`{"error", "hint"}`) with status 503/404, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import requests

from chain.connect import connect, rpc_url
from chain.errors import ChainUnreachable, DeploymentError
from fedpm.consortium.client import ConsortiumRegistry, MachineView
from fedpm.explorer import pages, part_pages
from fedpm.explorer.fl import read_tasks
from fedpm.explorer.health import fleet_page, load_fleet
from fedpm.explorer.sections import (MachineInfo, MaintenanceSection, SectionRegistry, Source, default_sections, load_leases, part_passport,
                                     unavailable)
from fedpm.hints import REVERT_FORMATS, REVERT_HINTS
from fedpm.parts.client import PartRegistry
from fedpm.settings import Settings
from fl_node.rounds import FederatedLearning
from ground.errors import ConfigError, FedpmError
from ground.ids import hex0x, to_bytes32
import chain.reverts as reverts

log = logging.getLogger(__name__)


class NotFound(FedpmError):
    """No such page or machine."""


class Explorer:
    """Reads what the pages show. One instance per server; no state between requests but the settings."""

    def __init__(self, settings: Settings, sections: SectionRegistry | None = None) -> None:
        self.settings = settings
        self.sections = sections or default_sections()

    def _source(self) -> tuple[Source, dict[str, Any]]:
        ctx = connect(self.settings, hints=REVERT_HINTS, formats=REVERT_FORMATS)  # reverts read as in the CLI
        ctx.contract("ConsortiumRegistry")  # raises DeploymentError on an empty chain
        chain = {"url": rpc_url(self.settings), "chain_id": ctx.w3.eth.chain_id, "block": ctx.w3.eth.block_number}
        return Source(self.settings, ctx), chain

    @staticmethod
    def _info(m: MachineView) -> MachineInfo:
        return MachineInfo(m.machine_id, m.operator_org, m.manufacturer_org, hex0x(m.metadata_hash))

    def machines(self) -> dict[str, Any]:
        source, chain = self._source()
        out = []
        for view in ConsortiumRegistry(source.ctx).machines():
            m = self._info(view)
            row = m.to_json()
            maint = MaintenanceSection().load(source, m)
            if maint.get("available"):
                row["maintenance_entries"] = sum(1 for i in maint["items"] if i["chain"])
                row["maintenance_ok"] = maint["ok"] if maint["items"] else None
            out.append(row)
        return {"chain": chain, "machines": out}

    def machine(self, machine_id: str) -> dict[str, Any]:
        try:
            to_bytes32(machine_id)
        except FedpmError:
            raise NotFound(f"{machine_id!r} is not a machine id", hint="pick one from the machines list") from None
        source, chain = self._source()
        view = ConsortiumRegistry(source.ctx).machine(machine_id)
        if view is None:
            raise NotFound(f"machine {machine_id!r} is not registered", hint="pick one from the machines list")
        m = self._info(view)
        return {"chain": chain, "machine": m.to_json(), "sections": {s.key: s.load(source, m) for s in self.sections}}

    def leases(self) -> dict[str, Any]:
        source, chain = self._source()
        return {"chain": chain, **load_leases(source)}

    def fleet(self) -> dict[str, Any]:
        """The prediction service's view of the fleet, most urgent first, with the model served and the version choices."""
        source, chain = self._source()
        return {"chain": chain, **load_fleet(source)}

    def parts(self) -> dict[str, Any]:
        source, chain = self._source()
        if not source.deployed(PartRegistry.CONTRACT):
            return {"chain": chain, **unavailable("no PartRegistry deployed")}
        return {"chain": chain, "available": True, "parts": PartRegistry(source.ctx).recorded()}

    def part(self, part_id: str) -> dict[str, Any]:
        """The part's passport, built from this home's records (the operator's) and verified against the chain now."""
        try:
            to_bytes32(part_id)
        except FedpmError:
            raise NotFound(f"{part_id!r} is not a part id", hint="pick one from the parts list") from None
        source, chain = self._source()
        if not source.deployed(PartRegistry.CONTRACT):
            raise NotFound("no PartRegistry deployed", hint="deploy with `fedpm deploy`")
        found = part_passport(source, part_id)
        if found is None:
            raise NotFound(f"no part {part_id!r} is recorded on chain", hint="pick one from the parts list")
        return {"chain": chain, **found}

    def fl(self) -> dict[str, Any]:
        """Every federated learning task with its rounds; `names` maps the addresses shown to their consortium orgs."""
        source, chain = self._source()
        if not source.deployed(FederatedLearning.CONTRACT):
            return {"chain": chain, **unavailable("no FederatedLearning contract deployed")}
        tasks = read_tasks(FederatedLearning(source.ctx))
        return {"chain": chain, "available": True, "tasks": tasks, "names": _org_names(source, _addresses(tasks))}


def _addresses(tasks: list[dict[str, Any]]) -> set[str]:
    found = set()
    for t in tasks:
        found.update([t["coordinator"], *t["trainers"], *t["aggregators"]])
        for r in t["rounds"]:
            found.update(p["trainer"] for p in r["participants"])
            found.update(v["aggregator"] for v in r["votes"])
    return found


def _org_names(source: Source, addresses: set[str]) -> dict[str, str]:
    """Address -> org id for the accounts of active members (others stay unnamed)."""
    registry = ConsortiumRegistry(source.ctx)
    names = {}
    for address in sorted(addresses):
        try:
            names[address] = registry.org_of(address)
        except reverts.NotMember:  # an account that left, or never was one
            continue
    return names


def _classify(exc: BaseException) -> tuple[HTTPStatus, str, str, str | None]:
    """(status, page title, message, hint) for an error; the message never carries a traceback."""
    if isinstance(exc, NotFound):
        return HTTPStatus.NOT_FOUND, "Not found", exc.message, exc.hint
    if isinstance(exc, ChainUnreachable):
        return HTTPStatus.SERVICE_UNAVAILABLE, "Chain node unreachable", exc.message, exc.hint
    if isinstance(exc, (requests.exceptions.RequestException, ConnectionError)):
        return HTTPStatus.SERVICE_UNAVAILABLE, "Chain node unreachable", "the JSON-RPC node stopped answering", "check that the chain node is running, then reload"
    if isinstance(exc, DeploymentError):
        return HTTPStatus.SERVICE_UNAVAILABLE, "No consortium deployed", exc.message, exc.hint
    if isinstance(exc, ConfigError):
        return HTTPStatus.SERVICE_UNAVAILABLE, "Explorer not configured", exc.message, exc.hint
    if isinstance(exc, FedpmError):
        return HTTPStatus.SERVICE_UNAVAILABLE, "Explorer unavailable", exc.message, exc.hint
    return HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error", "the explorer hit an unexpected error", "see the explorer's log"


def make_handler(explorer: Explorer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fedpm-explorer"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = urlsplit(self.path).path.rstrip("/") or "/"
            api = path == "/api" or path.startswith("/api/")
            try:
                status, body, ctype = self._route(path, api)
            except Exception as exc:  # every failure becomes a page; only unexpected ones are logged with a trace
                status, title, message, hint = _classify(exc)
                if status is HTTPStatus.INTERNAL_SERVER_ERROR:
                    log.exception("explorer request %s failed", self.path)
                if api:
                    body, ctype = json.dumps({"error": message, "title": title, "hint": hint}), "application/json"
                else:
                    body, ctype = pages.error_page(title, message, hint), "text/html; charset=utf-8"
            self._send(status, body, ctype)

        def _route(self, path: str, api: bool) -> tuple[HTTPStatus, str, str]:
            parts = [unquote(p) for p in path.strip("/").split("/")] if path != "/" else []
            if api:
                parts = parts[1:]
            if parts == [] and not api or parts == ["machines"] and api:
                data = explorer.machines()
                return HTTPStatus.OK, *(self._json(data) if api else (pages.machines_page(data), "text/html; charset=utf-8"))
            if len(parts) == 2 and parts[0] == "machines":
                data = explorer.machine(parts[1])
                html = lambda: pages.machine_page(data, explorer.sections.renderers())  # noqa: E731
                return HTTPStatus.OK, *(self._json(data) if api else (html(), "text/html; charset=utf-8"))
            if parts == ["leases"]:
                data = explorer.leases()
                return HTTPStatus.OK, *(self._json(data) if api else (pages.leases_page(data), "text/html; charset=utf-8"))
            if parts == ["fleet"]:
                data = explorer.fleet()
                return HTTPStatus.OK, *(self._json(data) if api else (fleet_page(data), "text/html; charset=utf-8"))
            if parts == ["parts"]:
                data = explorer.parts()
                return HTTPStatus.OK, *(self._json(data) if api else (part_pages.parts_page(data), "text/html; charset=utf-8"))
            if len(parts) == 2 and parts[0] == "parts":
                data = explorer.part(parts[1])
                return HTTPStatus.OK, *(self._json(data) if api else (part_pages.part_page(data), "text/html; charset=utf-8"))
            if parts == ["fl"]:
                data = explorer.fl()
                return HTTPStatus.OK, *(self._json(data) if api else (pages.fl_page(data), "text/html; charset=utf-8"))
            raise NotFound(f"no page at {path}", hint="start at /")

        @staticmethod
        def _json(data: Any) -> tuple[str, str]:
            return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str), "application/json"

        def _send(self, status: HTTPStatus, body: str, ctype: str) -> None:
            raw = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
            self.end_headers()
            self.wfile.write(raw)

    return Handler


def make_server(settings: Settings, host: str = "127.0.0.1", port: int = 0, sections: SectionRegistry | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Explorer(settings, sections)))
    server.daemon_threads = True
    return server


def start_explorer(settings: Settings, host: str = "127.0.0.1", port: int = 0, sections: SectionRegistry | None = None) -> tuple[str, Callable[[], None]]:
    """Serve in a background thread; returns the base URL and a `stop()` that shuts the server down."""
    server = make_server(settings, host, port, sections)
    thread = threading.Thread(target=server.serve_forever, name="fedpm-explorer", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{bound_host}:{bound_port}", stop


def serve_forever(settings: Settings, host: str, port: int, *, announce: Callable[[str], Any] = print) -> None:
    try:
        server = make_server(settings, host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port") from None
    announce(f"fedpm explorer at http://{server.server_address[0]}:{server.server_address[1]}  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
