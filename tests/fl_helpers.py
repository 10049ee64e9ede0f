"""Helpers of the federated-learning process tests: a JSON-RPC proxy that records (and can hold) what a node
process asks the chain, and the constant-predictor baseline a trained model's RMSE is judged against."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable

import numpy as np
from eth_utils import function_abi_to_4byte_selector

from tasks.rul import cmapss
from tasks.rul.evaluate import rmse

SENDS = frozenset({"eth_estimateGas", "eth_sendRawTransaction", "eth_sendTransaction"})  # what a node does before a transaction


class RpcProxy:
    """A loopback HTTP JSON-RPC forwarder to `target` that logs every request (method, params) in order.

    While `hold_sends` is set, requests that start a transaction (SENDS) are never answered nor forwarded: the
    node sits in its transaction as if the chain were unreachable, and nothing it tried can land later."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.hold_sends = False
        self.held: list[dict] = []
        self._log: list[dict] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as web3's session expects

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = proxy._handle(body)
                if reply is None:
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "RpcProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, body: bytes) -> bytes | None:
        calls = json.loads(body)
        calls = calls if isinstance(calls, list) else [calls]
        with self._lock:
            self._log.extend(calls)
            hold = self.hold_sends and any(c.get("method") in SENDS for c in calls)
            if hold:
                self.held.extend(calls)
        if hold:
            self._release.wait()  # until the test ends; the request is dropped, never forwarded
            return None
        req = urllib.request.Request(self.target, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def mark(self) -> int:
        """A position in the request log: `since(mark)` gives what came after it."""
        with self._lock:
            return len(self._log)

    def since(self, mark: int = 0) -> list[dict]:
        with self._lock:
            return list(self._log[mark:])


def calls_to(contract, requests: Iterable[dict], fn_name: str) -> int:
    """How many of `requests` are eth_calls of `fn_name` on `contract` (a view a node reads every poll)."""
    (abi,) = [e for e in contract.abi if e.get("type") == "function" and e["name"] == fn_name]
    selector = "0x" + function_abi_to_4byte_selector(abi).hex()
    return sum(1 for r in requests if r.get("method") == "eth_call" and str(r["params"][0].get("data") or r["params"][0].get("input") or "").startswith(selector))


def constant_mean_rmse(train_files: Iterable[Path], rul_file: Path, rul_cap: int) -> float:
    """RMSE on the test engines of the predictor that always says the mean capped RUL of the training cycles.

    A model worth its training must beat it by a wide margin; a model that predicts a constant (zero, the training
    mean, or even the test set's own mean) cannot."""
    train = np.concatenate([cmapss.rul_labels(len(s), rul_cap) for f in train_files for s in cmapss.load_file(f).series])
    true = np.minimum(cmapss.load_rul_file(rul_file), rul_cap)
    return rmse(np.full(len(true), train.mean()), true)
