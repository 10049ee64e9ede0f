"""A local anvil node for development, tests and the demo.

It runs like a consortium chain: zero gas price and zero base fee (members need no currency to transact, as
on a Besu network with `min-gas-price=0` and `zeroBaseFee`), and the `paris` hardfork unless told otherwise,
so bytecode that would fail on a Besu QBFT genesis without Shanghai fails here too. Like a QBFT chain it produces
a block every `block_time` seconds even when nobody transacts (deadlines pass by block time), while transactions
are still mined the moment they arrive (anvil's mixed mining), so nothing waits for the interval.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from chain.errors import ChainUnreachable
from chain.toolchain import anvil_path
from ground.errors import FedpmError
from ground.files import atomic_write

DEFAULT_CHAIN_ID = 1337
BLOCK_TIME_S = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on loopback `port` now (as anvil does, connections of a stopped chain lingering
    in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_record(state_file: Path) -> Path:
    """Where the port of the chain kept in `state_file` is recorded, beside it: a restart listens at the same URL, so
    long-running processes (gateways, nodes) keep working across it."""
    return state_file.with_name(state_file.name + ".port")


def recorded_port(state_file: Path) -> int | None:
    try:
        return int(port_record(state_file).read_text())
    except (OSError, ValueError):
        return None


def record_port(state_file: Path, port: int) -> None:
    atomic_write(port_record(state_file), str(port).encode())


class LocalChain:
    """`with LocalChain() as node: node.url` — anvil on a free loopback port, stopped on exit."""

    def __init__(self, *, port: int | None = None, chain_id: int = DEFAULT_CHAIN_ID, hardfork: str = "paris", block_time: int | None = BLOCK_TIME_S, log_file: Path | None = None, state_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.block_time = block_time  # None: mine only on transactions (no empty blocks)
        self.log_file = log_file
        self.state_file = state_file  # loaded at start if present, written at stop: the chain survives restarts
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [str(anvil_path()), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(self.chain_id),
               "--hardfork", self.hardfork, "--base-fee", "0", "--gas-price", "0", "--no-priority-fee", "--accounts", "2"]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time), "--mixed-mining"]
        if self.state_file:
            cmd += ["--state", str(self.state_file)]
        return cmd

    def start(self, timeout: float = 20.0) -> "LocalChain":
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self._proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        from web3 import Web3  # here, not at the top: `fedpm chain --help` reads BLOCK_TIME_S without loading web3

        deadline = time.monotonic() + timeout
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise FedpmError(f"anvil exited with status {self._proc.returncode}", hint="is the port free? see the anvil log")
            try:
                if w3.eth.chain_id == self.chain_id:
                    return self
            except Exception:  # not listening yet
                time.sleep(0.05)
        self.stop()
        raise ChainUnreachable(self.url, hint="anvil did not start in time")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def wait(self) -> int:
        assert self._proc is not None
        return self._proc.wait()

    def __enter__(self) -> "LocalChain":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
