"""A local Mosquitto MQTT broker for the demo and tests: its own config, port and persistence folder.

Mosquitto comes from Debian's package (`apt-get install mosquitto`); `make` installs it when run as root.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from chain.node import free_port
from ground.errors import FedpmError


MOSQUITTO_ENV = "FEDPM_MOSQUITTO"  # a mosquitto binary elsewhere; when set, the only place looked


def mosquitto_path() -> str | None:
    if MOSQUITTO_ENV in os.environ:
        path = os.environ[MOSQUITTO_ENV]
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


class LocalBroker:
    """`with LocalBroker(folder) as broker: broker.port` — restartable on the same port (persistence kept)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {self.dir}/\n"
            # durability: save the database (persistent sessions, their queued QoS 1 messages) after every change rather
            # than on a timer; persistent sessions never expire and their queues are unbounded (max_queued_messages 0)
            "autosave_on_changes true\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 100\n"
            f"user {getpass.getuser()}\n"  # as root, mosquitto would drop to user `mosquitto` and fail to save persistence
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> "LocalBroker":
        binary = mosquitto_path()
        if binary is None:
            raise FedpmError("mosquitto is not installed", hint="apt-get install mosquitto (make does it when run as root)")
        self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=open(self.dir / "log.txt", "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise FedpmError(f"mosquitto did not start on port {self.port}", hint=f"see {self.dir / 'log.txt'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean stop writes the persistence file
            self.proc.wait(10)

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
