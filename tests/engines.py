"""Real engines on loopback for the network tests: geth Clique signers and kubo daemons in a private swarm.

Binaries come from tests/parts.py ("geth", "kubo"; `make engines` builds them into out/engines/bin). Every node gets
free loopback ports, its own folder and log, and is stopped (SIGTERM, then SIGKILL) by the test that started it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from web3 import Web3

from chain.connect import web3_at
from chain.node import free_port
from fedpm.network.identity import ChainNode

GETH_PASSWORD = "geth-signer"


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(predicate, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class GethSigner:
    """A geth v1.13 node sealing Clique blocks with `key`, which is also its p2p node key: the enode a member
    declares names the signer (fedpm.network.validators)."""

    binary: str
    folder: Path
    key: bytes
    chain_id: int
    http_port: int = field(default_factory=free_port)
    p2p_port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def address(self) -> str:
        return ChainNode(self.key).address

    @property
    def enode(self) -> str:
        return ChainNode(self.key).enode("127.0.0.1", self.p2p_port)

    @property
    def log(self) -> Path:
        return self.folder / "geth.log"

    def init(self, genesis: dict) -> "GethSigner":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "genesis.json").write_text(json.dumps(genesis))
        keystore = self.folder / "data" / "keystore"
        keystore.mkdir(parents=True)
        (keystore / "signer.json").write_text(json.dumps(Account.encrypt(self.key, GETH_PASSWORD, kdf="scrypt", iterations=2**10)))
        (self.folder / "password").write_text(GETH_PASSWORD)
        out = subprocess.run([self.binary, "--datadir", str(self.folder / "data"), "init", str(self.folder / "genesis.json")], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return self

    def command(self) -> list[str]:
        return [self.binary, "--datadir", str(self.folder / "data"), "--networkid", str(self.chain_id), "--syncmode", "full",
                "--port", str(self.p2p_port), "--nodiscover", "--nat", "none", "--nodekeyhex", self.key.hex(), "--ipcdisable",
                "--authrpc.port", str(self.auth_port), "--http", "--http.addr", "127.0.0.1", "--http.port", str(self.http_port),
                "--http.api", "eth,net,web3,clique,admin,txpool", "--mine", "--miner.etherbase", self.address,
                "--miner.gasprice", "1", "--unlock", self.address, "--password", str(self.folder / "password"), "--allow-insecure-unlock"]

    def start(self, peers: list["GethSigner"] = ()) -> "GethSigner":
        self.proc = subprocess.Popen(self.command(), stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.proc.poll() is None and self.w3().eth.chain_id == self.chain_id, 60, f"geth at {self.url} (log {self.log})")
        for peer in peers:
            self.rpc("admin_addPeer", [peer.enode])
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def w3(self) -> Web3:
        return web3_at(self.url)  # fedpm's own connection (PoA extraData middleware)

    def rpc(self, method: str, params: list) -> object:
        reply = self.w3().provider.make_request(method, params)
        assert "error" not in reply, reply
        return reply["result"]


@dataclass
class KuboNode:
    """A kubo daemon with its repo in `folder`, API and swarm on free loopback ports."""

    binary: str
    folder: Path
    api_port: int = field(default_factory=free_port)
    swarm_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "IPFS_PATH": str(self.folder / "repo"), "LIBP2P_FORCE_PNET": "1",
                "IPFS_API_ADDR": f"/ip4/127.0.0.1/tcp/{self.api_port}", "IPFS_SWARM_ADDR": f"/ip4/127.0.0.1/tcp/{self.swarm_port}"}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log(self) -> Path:
        return self.folder / "kubo.log"

    def ipfs(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run([self.binary, *args], env=env or self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"ipfs {' '.join(args)}: {out.stderr}"
        return out.stdout

    def init(self, swarm_key: Path, init_script: Path, peers_json: str) -> "KuboNode":
        """`ipfs init`, the swarm key, then the member's init script from `fedpm network init`, as the kubo container
        runs it (its compose addresses replaced by loopback ones through the script's overrides)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ipfs("init", "--empty-repo", "--profile", "test")
        (self.folder / "repo" / "swarm.key").write_bytes(swarm_key.read_bytes())
        env = {**self.env, "IPFS_PEERS": peers_json, "PATH": f"{Path(self.binary).parent}:{os.environ.get('PATH', '')}"}
        out = subprocess.run(["sh", str(init_script)], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return self

    def start(self) -> "KuboNode":
        self.proc = subprocess.Popen([self.binary, "daemon"], env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.proc.poll() is None and self.rpc("id")["ID"], 60, f"kubo at {self.api} (log {self.log})")
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def rpc(self, command: str, **params: str) -> dict:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        req = urllib.request.Request(f"{self.api}/api/v0/{command}?{query}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")
