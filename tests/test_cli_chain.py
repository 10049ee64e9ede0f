"""`fedpm chain up --state` as a user restarts it: the chain comes back at the same URL, so the gateways and nodes
pointed at it keep working; when that port is taken it says so and picks another."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def chain_up(home: Path, state: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")} | {"FEDPM_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "chain", "up", "--state", str(state)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
    return proc, url


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    return err


def test_a_restarted_chain_listens_where_it_did_and_says_when_it_cannot(tmp_path):
    # Prepare: a chain with a state file, stopped
    home, state = tmp_path / "home", tmp_path / "chain-state.json"
    first, url = chain_up(home, state)
    stop(first)
    # Execute: start it again
    second, again = chain_up(home, state)
    stop(second)
    # ... and once more while another program holds its port
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped chain's connections may linger
        holder.bind(("127.0.0.1", port))
        holder.listen()
        third, moved = chain_up(home, state)
        err = stop(third)
    # Assert
    assert again == url
    assert moved != url and f"warning: port {port}, where this chain listened last, is taken" in err
