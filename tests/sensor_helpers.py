"""Shared helpers of the sensor tests: a real mosquitto on a free loopback port, gateway process environments."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import sys
from pathlib import Path

from chain.node import free_port
from fedpm.broker import LocalBroker
from tests.parts import needs

needs_mosquitto = needs("mosquitto")
REPO = Path(__file__).resolve().parents[1]
Mosquitto = LocalBroker  # the product's broker launcher: own config, port and persistence; restartable


def gateway_env(home: Path, ctx, consortium, names: dict[str, object]) -> dict[str, str]:
    """A home with keystores for `names` (keystore name -> LocalAccount) and env vars for CLI subprocesses."""
    from chain.keystore import Keystore
    from tests.conftest import TEST_PASSWORD, make_settings

    settings = make_settings(home, ctx.settings.chain.rpc_url)
    ks = Keystore(settings.keystore_dir, settings.keys)
    for name, account in names.items():
        if not ks.path(name).exists():
            ks.create(name, account.key)
    env = dict(os.environ)
    env.update({"FEDPM_HOME": str(home), "FEDPM_CHAIN_RPC_URL": ctx.w3.provider.endpoint_uri, "FEDPM_CHAIN_DEPLOYMENT_FILE": str(ctx.deployment_path),
                "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_KEYS_SCRYPT_N": "1024", "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1", "PYTHONPATH": str(REPO)})
    return env


def fedpm(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedpm.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)


def start_gateway(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fedpm.cli", "gateway", "run", *args], env=env, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


class TcpProxy:
    """A loopback TCP forwarder to `target_port` that can be taken down (listener and live connections closed,
    like a chain node going away) and brought back on the same port."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "TcpProxy":
        import threading

        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()
        return self

    def _accept(self, ls: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone would not)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
