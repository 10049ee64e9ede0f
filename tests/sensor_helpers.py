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


def chain_now_ms(ctx) -> int:
    """The chain's current time (its latest block's timestamp) in ms: readings stamped from here on are in every
    device key's window that is bound by now (a key signs only readings from its bind time)."""
    return int(ctx.w3.eth.get_block("latest")["timestamp"]) * 1000


def readings_t0(consortium) -> int:
    """Epoch ms from which every device key of the consortium signs: its latest bind time, the chain's own time when
    the maker bound it (a key signs only readings from then on). Tests stamp readings from here, never at a fixed
    date, which would fall before the binding once that date has passed."""
    return max(consortium.registry.device(key.address).valid_from for key in consortium.devices.values()) * 1000


def key_window_ms(consortium, device: str, min_ms: int = 2000) -> tuple[int, int]:
    """(now, the device key's bind time) in ms, at least `min_ms` apart (waits if the key is younger): readings stamped
    between them are in the key's window and in the past."""
    bound_ms = consortium.registry.device(device).valid_from * 1000
    wait_ms = bound_ms + min_ms - int(time.time() * 1000)
    if wait_ms > 0:
        time.sleep(wait_ms / 1000)
    return int(time.time() * 1000), bound_ms


# ---------------------------------------------------------------- signed blocks, batches and anchors without a gateway


def sign_blocks(device, machine: str, dom, seqs, *, t0: int, readings: int = 4, channel: str = "vibration", unit: str = "g"):
    """Signed blocks (`SignedBlock`) of `device` for `machine`, one per seq, `readings` readings each, 10 ms apart,
    block `seq` from t0 + 1000 * seq (t0: `readings_t0` for the consortium's keys)."""
    from fedpm.sensors.encoding import encode_block, parse_signed
    from fedpm.sensors.signing import BlockSigner

    signer = BlockSigner.of(device, dom)
    out = []
    for seq in seqs:
        ts = [t0 + 1000 * seq + 10 * i for i in range(readings)]
        raw = encode_block(device.address, machine, seq, channel, unit, ts, [round(0.001 * (seq * readings + i) - 0.5, 6) for i in range(readings)])
        out.append(parse_signed(raw + signer.sign(raw)))
    return out


def batch_of(blocks):
    """(BatchSummary, leaves) of blocks of one device, in the given order."""
    from fedpm.sensors.anchoring import BatchSummary
    from fedpm.sensors.merkle import block_leaf, keccak256, root_of_leaves

    leaves = [block_leaf(keccak256(b.block), b.signature) for b in blocks]
    summary = BatchSummary(blocks[0].machine, blocks[0].device, blocks[0].seq, blocks[-1].seq, len(blocks), sum(b.n for b in blocks),
                           min(b.min_ts for b in blocks), max(b.max_ts for b in blocks), root_of_leaves(leaves))
    return summary, leaves


def store_anchored(store, registry, sender, batches) -> int:
    """Write batches (lists of signed blocks) to a GatewayStore as the gateway would, anchor them under one root with
    `sender`, mark them anchored; returns the store's anchor id."""
    from fedpm.sensors.anchoring import anchor_root
    from fedpm.sensors.encoding import encode_frames

    ids, summaries = [], []
    store.persist_blocks([b for blocks in batches for b in blocks])
    inbox = {(r.device, r.seq): r.id for r in store.inbox()}
    for blocks in batches:
        summary, leaves = batch_of(blocks)
        summaries.append(summary)
        ids.append(store.close_batch(summary, encode_frames(b.signed for b in blocks), b"".join(leaves), [inbox[(b.device, b.seq)] for b in blocks],
                                     [b.seq for b in blocks]))
    root = anchor_root(summaries)
    aid = store.create_anchor(root, ids)
    rcpt = registry.anchor_root(sender, root)
    store.mark_anchored(aid, rcpt.tx_hash, rcpt.block_number, sender.address)
    return aid
