"""The sensor gateway: MQTT (or CSV / stdin) in, device-signed batches out, anchored on chain.

Pipeline (one process, three threads):
- paho's network thread hands each message to a queue (`on_message` does nothing else; manual acks).
- the core thread drains the queue in groups, parses payloads, writes the group to the SQLite inbox in one
  transaction, THEN acknowledges the messages (QoS 1: the broker redelivers anything unacknowledged), and
  closes a machine's batch when it holds `batch_size` readings (at the first message boundary at or after it)
  or its oldest reading waited `max_age_s`. Closing computes the Merkle tree, has the machine's device key
  sign the EIP-712 `Batch`, and stores batch + leaves + signature while deleting the inbox rows, atomically.
- the anchor thread sends stored `signed` batches in order (up to `max_batches_per_tx` per transaction) and
  marks them anchored. After a restart the store's inbox and signed batches are picked up again; batches the
  chain already holds (crash after mining, before marking) are reconciled by (device, seq), never re-sent.
Duplicate deliveries are dropped by message digest and by (machine, src, seq) for sequenced blocks; the store
records every sequenced block received, so blocks lost upstream show as gaps (`GatewayStore.gaps`, `gateway status`);
malformed messages are counted, logged and acknowledged.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from eth_account.signers.local import LocalAccount

from chain.reverts import ContractRevert
from chain.sender import TxSender
from fedpm.sensors.client import SensorBatchRegistry, reconcile
from fedpm.sensors.encoding import batch_from_records
from fedpm.sensors.ingest import MalformedPayload, Parsed, parse_payload, split_topic
from fedpm.sensors.merkle import leaf_hashes_of_records, root_of_leaves
from fedpm.sensors.signing import BatchHeader, sign_batch
from fedpm.sensors.store import GatewayStore
from ground.errors import FedpmError

log = logging.getLogger("fedpm.sensors.gateway")


@functools.cache
def _glibc_malloc_trim() -> Callable[[], None]:
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


def _release_free_memory() -> None:
    """Hand freed heap pages back to the OS. The gateway's threads allocate and free ~kB blobs (payloads, records,
    batches) at a high rate; glibc keeps freed pages in its per-thread arenas, so without this RSS ratchets up to
    the highest fragmentation seen rather than tracking live data."""
    _glibc_malloc_trim()()


@dataclass
class GatewayConfig:
    store_path: Path
    devices: dict[str, LocalAccount]  # machine id -> its device key
    batch_size: int = 1000
    max_age_s: float = 2.0
    max_batches_per_tx: int = 16
    topic_root: str = "fedpm"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    client_id: str = "fedpm-gateway"
    durable: bool = False
    dedupe_window_s: float = 3600.0


_FLUSH = ("flush", None, None, None)


@dataclass
class _Pending:
    inbox_id: int
    parsed: Parsed
    since: float


@dataclass
class _Buffer:
    items: deque[_Pending] = field(default_factory=deque)
    count: int = 0


class Gateway:
    def __init__(self, config: GatewayConfig, sender: TxSender, registry: SensorBatchRegistry, chain_id: int) -> None:
        self.config = config
        self.sender = sender
        self.registry = registry
        self.chain_id = chain_id
        self.queue: queue.Queue = queue.Queue()
        self.malformed = 0
        self.unknown_machine = 0
        self.duplicates = 0
        self.errors: list[str] = []
        self._buffers: dict[str, _Buffer] = {}
        self._seq: dict[str, int] = {}
        self._stop = threading.Event()
        self._anchor_wake = threading.Event()
        self._idle = threading.Event()
        self._threads: list[threading.Thread] = []
        self._mqtt: Any = None
        self.subscribed = threading.Event()  # set once the broker confirmed the subscription
        self.store = GatewayStore(config.store_path, create=True, durable=config.durable)  # the core thread's connection; creates the store

    # ------------------------------------------------------------ lifecycle

    def recover(self) -> None:
        """Resume from the store: inbox rows back into buffers, sequence numbers, reconcile signed batches."""
        now = time.monotonic()
        for row in self.store.inbox():
            self._buffer(row.machine).items.append(_Pending(row.id, Parsed(row.machine, row.n, row.records, row.min_ts, row.max_ts, row.src, row.seq), now))
            self._buffer(row.machine).count += row.n
        for machine, device in self.config.devices.items():
            self._seq[machine] = max(self.store.next_seq(device.address), self.registry.next_seq(device.address))
        marked, conflicts = reconcile(self.store, self.registry, self.store.unanchored(limit=10**9))
        if marked:
            log.info("reconciled %d batch(es) already anchored on chain", len(marked))
        for bid, reason in conflicts:
            log.error("batch %d conflicts with the chain: %s", bid, reason)

    def start(self) -> None:
        self.recover()
        for name, target in (("core", self._core_loop), ("anchor", self._anchor_loop)):
            t = threading.Thread(target=target, name=f"gateway-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        if self._mqtt is not None:
            self._mqtt.loop_stop()
            self._mqtt.disconnect()
        self._anchor_wake.set()
        for t in self._threads:
            t.join(timeout=30)

    # ------------------------------------------------------------ inputs

    def submit(self, machine: str, channel: str, payload: bytes, ack: Callable[[], None] | None = None) -> None:
        self.queue.put((machine, channel, payload, ack))

    def submit_parsed(self, parsed: Parsed, digest: bytes) -> None:
        self.queue.put((parsed, digest, None, None))

    def connect_mqtt(self) -> None:
        cfg = self.config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, clean_session=False, protocol=mqtt.MQTTv311)
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=0.2, max_delay=5)  # exponential backoff while the broker is down
        root = cfg.topic_root

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if reason.is_failure:
                log.warning("broker refused connection: %s", reason)
                return
            log.info("connected to mqtt://%s:%d", cfg.mqtt_host, cfg.mqtt_port)
            c.subscribe(f"{root}/+/+", qos=1)

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if not self._stop.is_set():
                log.warning("disconnected from broker (%s); reconnecting with backoff", reason)

        def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
            if any(r.is_failure for r in reasons):
                log.warning("broker refused the subscription: %s", reasons)
                return
            log.info("subscribed to %s/+/+", root)
            self.subscribed.set()

        def on_message(c: Any, userdata: Any, msg: Any) -> None:
            mid, qos = msg.mid, msg.qos
            self.queue.put((msg.topic, None, msg.payload, (lambda: c.ack(mid, qos)) if qos else None))

        client.on_connect, client.on_disconnect, client.on_message, client.on_subscribe = on_connect, on_disconnect, on_message, on_subscribe
        client.connect_async(cfg.mqtt_host, cfg.mqtt_port, keepalive=10)
        client.loop_start()
        self._mqtt = client

    # ------------------------------------------------------------ core thread

    def _buffer(self, machine: str) -> _Buffer:
        buf = self._buffers.get(machine)
        if buf is None:
            buf = self._buffers[machine] = _Buffer()
        return buf

    def _core_loop(self) -> None:
        last_prune = last_trim = time.monotonic()
        while not self._stop.is_set():
            try:
                items = [self.queue.get(timeout=0.05)]
            except queue.Empty:
                items = []
            while len(items) < 5000:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            flush = any(i is _FLUSH for i in items)
            if flush:
                items = [i for i in items if i is not _FLUSH]
            try:
                if items:
                    self._ingest(items)
                self._close_due(flush=flush)
                if time.monotonic() - last_prune > 60:
                    self.store.prune_seen(time.time() - self.config.dedupe_window_s)
                    last_prune = time.monotonic()
                if time.monotonic() - last_trim > 10:
                    _release_free_memory()
                    last_trim = time.monotonic()
            except Exception as exc:  # keep the gateway alive; unacked messages are redelivered
                log.exception("core loop error: %s", exc)
                self.errors.append(repr(exc))
                time.sleep(0.5)
            self._idle.set() if not items and self.queue.empty() else self._idle.clear()

    def _ingest(self, items: list[tuple]) -> None:
        rows, parsed_list, acks = [], [], []
        root = self.config.topic_root
        malformed = unknown = 0
        for a, b, payload, ack in items:
            if ack is not None:
                acks.append(ack)
            try:
                if isinstance(a, Parsed):  # pre-parsed (CSV / stdin), b is its digest
                    parsed, digest = a, b
                else:
                    if b is None:  # MQTT: a is the topic
                        machine, channel = split_topic(a, root)
                    else:
                        machine, channel = a, b
                    parsed = parse_payload(machine, channel, payload)
                    h = hashlib.blake2b(f"{machine}/{channel}".encode() + b"\0", digest_size=16)
                    h.update(payload)
                    digest = h.digest()
            except MalformedPayload as exc:
                malformed += 1
                log.warning("malformed message dropped: %s", exc.message)
                continue
            if parsed.machine not in self.config.devices:
                unknown += 1
                log.warning("reading for machine %r without a device key dropped", parsed.machine)
                continue
            rows.append((digest, parsed))
            parsed_list.append(parsed)
        ids = self.store.persist_messages(rows) if rows else []
        for ack in acks:  # only now: everything acknowledged is on disk
            ack()
        now = time.monotonic()
        duplicates = 0
        for inbox_id, parsed in zip(ids, parsed_list):
            if inbox_id is None:
                duplicates += 1
                continue
            buf = self._buffer(parsed.machine)
            buf.items.append(_Pending(inbox_id, parsed, now))
            buf.count += parsed.n
        if duplicates:
            self.duplicates += duplicates
            self.store.bump("duplicates", duplicates)
        if malformed or unknown:
            self.malformed += malformed
            self.unknown_machine += unknown
            self.store.bump("malformed", malformed) if malformed else None
            self.store.bump("unknown_machine", unknown) if unknown else None
        for machine, buf in self._buffers.items():
            while buf.count >= self.config.batch_size:
                self._close(machine, buf, self.config.batch_size)

    def _close_due(self, flush: bool) -> None:
        now = time.monotonic()
        for machine, buf in self._buffers.items():
            if buf.items and (flush or now - buf.items[0].since >= self.config.max_age_s):
                while buf.items:
                    self._close(machine, buf, self.config.batch_size)

    def _close(self, machine: str, buf: _Buffer, size: int) -> None:
        taken, n = [], 0
        while buf.items and n < size:
            p = buf.items.popleft()
            taken.append(p)
            n += p.parsed.n
        buf.count -= n
        device = self.config.devices[machine]
        records = b"".join([p.parsed.records for p in taken])
        leaves = leaf_hashes_of_records(records)
        if len(leaves) != n:
            raise FedpmError(f"batch of {machine}: {len(leaves)} records for {n} readings", hint="the gateway's inbox is corrupt")
        root = root_of_leaves(leaves)
        header = BatchHeader(machine, self._seq[machine], min(p.parsed.min_ts for p in taken), max(p.parsed.max_ts for p in taken), n, root)
        signature = sign_batch(device, header, self.chain_id, self.registry.address)
        data = batch_from_records(n, records)
        blocks = [(p.parsed.src, p.parsed.seq) for p in taken if p.parsed.seq is not None]
        self.store.close_batch(header, device.address, signature, data, b"".join(leaves), [p.inbox_id for p in taken], blocks)
        self._seq[machine] += 1
        self._anchor_wake.set()

    def wait_subscribed(self, timeout: float = 30.0) -> bool:
        """Wait until the broker confirmed the subscription (from then on the persistent session keeps messages)."""
        return self.subscribed.wait(timeout)

    def request_flush(self) -> None:
        """Ask the core thread to close every partial batch now (end of CSV/stdin input, demo end)."""
        self.queue.put(_FLUSH)

    # ------------------------------------------------------------ anchor thread

    def _anchor_loop(self) -> None:
        store = GatewayStore(self.config.store_path, durable=self.config.durable)
        backoff = 0.2
        while True:
            self._anchor_wake.wait(timeout=0.5)
            self._anchor_wake.clear()
            try:
                while True:
                    pending = store.unanchored(limit=self.config.max_batches_per_tx)
                    if not pending:
                        break
                    self._anchor_group(store, pending)
                backoff = 0.2
            except (FedpmError, OSError, ValueError) as exc:  # chain down or slow: retry with backoff
                log.warning("anchoring failed (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._anchor_wake.set()
            if self._stop.is_set() and not store.unanchored(limit=1):
                break
            if self._stop.is_set():
                break
        store.close()

    def _anchor_group(self, store: GatewayStore, pending: list) -> None:
        try:
            rcpt = self.registry.anchor(self.sender, pending)
        except ContractRevert as exc:
            if exc.error_name == "ReplayedSeq":
                marked, _ = reconcile(store, self.registry, pending)
                log.info("replayed seq: reconciled %d batch(es) with the chain", len(marked))
                return
            if len(pending) > 1:
                for b in pending:  # find the one the contract rejects; anchor the rest
                    self._anchor_group(store, [b])
                return
            log.error("batch %s/%d rejected by the contract: %s", pending[0].machine, pending[0].seq, exc)
            store.mark_failed(pending[0].id, "rejected", exc.message)
            return
        store.mark_anchored([(b.id, rcpt.tx_hash, rcpt.block_number, self.sender.address) for b in pending])

    # ------------------------------------------------------------ helpers for batch ingestion and tests

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until the queue is drained and every closed batch is anchored."""
        deadline = time.monotonic() + timeout
        probe = GatewayStore(self.config.store_path)
        try:
            while time.monotonic() < deadline:
                if self.queue.empty() and self._idle.is_set() and not probe.unanchored(limit=1):
                    return True
                time.sleep(0.02)
            return False
        finally:
            probe.close()

    def counters(self) -> dict[str, int]:
        return {"malformed": self.malformed, "unknown_machine": self.unknown_machine, "duplicates": self.duplicates}
