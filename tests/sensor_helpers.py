"""Shared helpers of the sensor tests: a real mosquitto on a free loopback port, gateway process environments."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chain.node import free_port

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto binary not installed (apt-get install mosquitto)")
REPO = Path(__file__).resolve().parents[1]


class Mosquitto:
    """A broker with its own config and persistence folder; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {self.dir}/\n"
            "autosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 100\n"
            f"user {getpass.getuser()}\n"  # run as root, mosquitto would drop to user `mosquitto` and fail to save persistence
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Mosquitto":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=open(self.dir / "log.txt", "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean stop writes the persistence file
            self.proc.wait(10)


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
                "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_KEYS_SCRYPT_N": "1024", "PYTHONPATH": str(REPO)})
    return env


def fedpm(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedpm.sensors", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)


def start_gateway(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fedpm.sensors", "gateway", "run", *args], env=env, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
