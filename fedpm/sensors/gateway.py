"""The sensor gateway: device-signed blocks in (MQTT, or a block file), batches and one anchored root out per interval.

The gateway holds no device key. It checks every block (`ingest.admit`: the device's signature over these bytes;
then the device's binding to the machine, read from the ConsortiumRegistry and cached per device; then that its
(device, seq) is new and above what was already batched) and refuses and counts anything else (unsigned, forged,
unbound, replayed, out of sequence, malformed). Pipeline (one process, three threads):
- paho's network thread hands each message to a queue (`on_message` does nothing else; manual acks).
- the core thread drains the queue in groups, checks the blocks, writes the accepted ones to the SQLite inbox in
  one transaction, THEN acknowledges the messages (QoS 1: the broker redelivers anything unacknowledged), and closes
  a device's batch (its blocks in seq order under their Merkle root) when it holds `batch_size` readings or its
  oldest block waited `max_age_s`, moving the inbox rows into the batch atomically.
- the anchor thread groups every closed batch into one root of roots (`anchoring.anchor_root`), records it as a
  pending anchor with its batches in one transaction, sends it and marks it anchored: at most one anchor per
  `anchor_interval_s` while blocks keep coming, at once when the gateway is idle. After a restart the inbox is
  picked up again and a pending anchor is resent; one the chain already holds (crash after mining, before marking)
  is reconciled by its root, never anchored twice.
The store records every (device, seq) received, so blocks lost upstream show as gaps (`GatewayStore.gaps`).
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt

from chain.reverts import ContractRevert
from chain.sender import TxSender
from fedpm.sensors.anchoring import BatchSummary, anchor_root
from fedpm.sensors.client import DeviceBindings, SensorBatchRegistry
from fedpm.sensors.encoding import SignedBlock, encode_frames, parse_signed
from fedpm.sensors.ingest import Refused, admit, split_topic
from fedpm.sensors.merkle import block_leaf, keccak256, root_of_leaves
from fedpm.sensors.store import REFUSALS, GatewayStore, StoredAnchor
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
    """Hand freed heap pages back to the OS. The gateway's threads allocate and free ~kB blobs (payloads, blocks,
    batches) at a high rate; glibc keeps freed pages in its per-thread arenas, so without this RSS ratchets up to
    the highest fragmentation seen rather than tracking live data."""
    _glibc_malloc_trim()()


@dataclass
class GatewayConfig:
    store_path: Path
    batch_size: int = 1000  # readings per device batch
    max_age_s: float = 2.0  # close a device's batch once its oldest block waited this long
    anchor_interval_s: float = 1.0  # at most one anchor per interval while blocks keep coming (at once when idle)
    max_batches_per_anchor: int = 4096
    topic_root: str = "fedpm"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    client_id: str = "fedpm-gateway"
    durable: bool = False


_FLUSH = ("flush", None, None)


@dataclass
class _Pending:
    inbox_id: int
    block: SignedBlock
    leaf: bytes
    since: float


@dataclass
class _Buffer:
    items: deque[_Pending] = field(default_factory=deque)
    count: int = 0


class Gateway:
    def __init__(self, config: GatewayConfig, sender: TxSender, registry: SensorBatchRegistry, bindings: DeviceBindings) -> None:
        self.config = config
        self.sender = sender
        self.registry = registry
        self.bindings = bindings
        self.domain = registry.signing_domain()
        self.queue: queue.Queue = queue.Queue()
        self.refused: collections.Counter[str] = collections.Counter()
        self._warned: dict[str, float] = {}  # reason -> when a refusal of it was last logged
        self.errors: list[str] = []
        self._buffers: dict[str, _Buffer] = {}  # device -> its blocks not yet batched
        self._watermark: dict[str, int] = {}  # device -> highest seq already batched
        self._stop = threading.Event()
        self._anchor_wake = threading.Event()
        self._flush_anchor = threading.Event()
        self._idle = threading.Event()
        self._threads: list[threading.Thread] = []
        self._mqtt: Any = None
        self.subscribed = threading.Event()  # set once the broker confirmed the subscription
        self.store = GatewayStore(config.store_path, create=True, durable=config.durable)  # the core thread's connection; creates the store

    # ------------------------------------------------------------ lifecycle

    def recover(self) -> None:
        """Resume from the store: inbox rows back into buffers (checked when they arrived), batched watermarks."""
        now = time.monotonic()
        for row in self.store.inbox():
            block = parse_signed(row.signed)
            self._buffer(block.device).items.append(_Pending(row.id, block, block_leaf(keccak256(block.block), block.signature), now))
            self._buffer(block.device).count += block.n
        self._watermark = self.store.watermarks()

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

    def submit_block(self, signed: bytes) -> None:
        """A signed block from a file or stdin (no topic: the block names its machine and channel)."""
        self.queue.put((None, signed, None))

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
            self.queue.put((msg.topic, msg.payload, (lambda: c.ack(mid, qos)) if qos else None))

        client.on_connect, client.on_disconnect, client.on_message, client.on_subscribe = on_connect, on_disconnect, on_message, on_subscribe
        client.connect_async(cfg.mqtt_host, cfg.mqtt_port, keepalive=10)
        client.loop_start()
        self._mqtt = client

    # ------------------------------------------------------------ core thread

    def _buffer(self, device: str) -> _Buffer:
        buf = self._buffers.get(device)
        if buf is None:
            buf = self._buffers[device] = _Buffer()
        return buf

    def _core_loop(self) -> None:
        last_trim = time.monotonic()
        while not self._stop.is_set():
            try:
                items = [self.queue.get(timeout=0.05)]
            except queue.Empty:
                items = []
            while len(items) < 2000:
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
                if flush:
                    self._flush_anchor.set()
                    self._anchor_wake.set()
                if time.monotonic() - last_trim > 10:
                    _release_free_memory()
                    last_trim = time.monotonic()
            except Exception as exc:  # keep the gateway alive; unacked messages are redelivered
                log.exception("core loop error: %s", exc)
                self.errors.append(repr(exc))
                time.sleep(0.5)
            idle = not items and self.queue.empty() and not any(b.items for b in self._buffers.values())
            if idle and not self._idle.is_set():
                self._idle.set()
                self._anchor_wake.set()  # nothing more is coming now: anchor what is closed
            elif not idle:
                self._idle.clear()

    def _check(self, topic: str | None, payload: bytes) -> tuple[SignedBlock, bytes]:
        """The block and its leaf if it may be batched; raises Refused with the reason otherwise."""
        machine, channel = split_topic(topic, self.config.topic_root) if topic is not None else (None, None)
        block, leaf = admit(payload, self.domain, machine, channel)
        binding = self.bindings.binding(block.device)
        if not binding.allows(block.machine, block.min_ts, block.max_ts):  # the machine's key at the block's reading times
            raise Refused("unbound", binding.refusal(block.machine, block.min_ts, block.max_ts))
        if block.seq <= self._watermark.get(block.device, -1):
            if self.store.has_block(block.device, block.seq):
                raise Refused("replayed", f"block {block.seq} of device {block.device} was received before")
            raise Refused("out_of_sequence", f"block {block.seq} of device {block.device} arrived after seq {self._watermark[block.device]} was batched")
        return block, leaf

    def _ingest(self, items: list[tuple]) -> None:
        accepted: list[tuple[SignedBlock, bytes]] = []
        acks = []
        refused: collections.Counter[str] = collections.Counter()
        for topic, payload, ack in items:
            if ack is not None:
                acks.append(ack)
            try:
                accepted.append(self._check(topic, bytes(payload)))
            except Refused as exc:
                refused[exc.reason] += 1
                self._warn(exc.reason, exc.message)
        ids = self.store.persist_blocks([b for b, _ in accepted]) if accepted else []
        for ack in acks:  # only now: everything acknowledged is on disk (or refused for good)
            ack()
        now = time.monotonic()
        for inbox_id, (block, leaf) in zip(ids, accepted):
            if inbox_id is None:
                refused["replayed"] += 1
                self._warn("replayed", f"block {block.seq} of device {block.device} was received before")
                continue
            buf = self._buffer(block.device)
            buf.items.append(_Pending(inbox_id, block, leaf, now))
            buf.count += block.n
        for reason, n in refused.items():
            self.refused[reason] += n
            self.store.bump(reason, n)
        full = [(device, buf) for device, buf in self._buffers.items() if buf.count >= self.config.batch_size]
        for device, buf in full:
            while buf.count >= self.config.batch_size:
                self._close(device, buf)
        if full:
            self._anchor_wake.set()

    def _warn(self, reason: str, message: str) -> None:
        """Log a refusal, at most one line per reason per 10 s (a flood of forged blocks must not flood the log;
        the counters count every one)."""
        now = time.monotonic()
        if now - self._warned.get(reason, -1e9) >= 10.0:
            self._warned[reason] = now
            log.warning("%s block refused: %s (counted in gateway status; further %s refusals are logged at most every 10 s)", reason, message, reason)

    def _close_due(self, flush: bool) -> None:
        now = time.monotonic()
        due = [(device, buf) for device, buf in self._buffers.items() if buf.items and (flush or now - min(p.since for p in buf.items) >= self.config.max_age_s)]
        for device, buf in due:
            while buf.items:
                self._close(device, buf)
        if due:
            self._anchor_wake.set()  # once, after every due batch is closed: they can go out under one root

    def _close(self, device: str, buf: _Buffer) -> None:
        """Batch the device's lowest-seq blocks, up to `batch_size` readings (at least one block)."""
        pending = sorted(buf.items, key=lambda p: p.block.seq)
        taken, n = [], 0
        while pending and (not taken or n + pending[0].block.n <= self.config.batch_size):
            p = pending.pop(0)
            taken.append(p)
            n += p.block.n
        buf.items = deque(pending)
        buf.count -= n
        blocks = [p.block for p in taken]
        summary = BatchSummary(blocks[0].machine, device, blocks[0].seq, blocks[-1].seq, len(blocks), n, min(b.min_ts for b in blocks),
                               max(b.max_ts for b in blocks), root_of_leaves([p.leaf for p in taken]))
        self.store.close_batch(summary, encode_frames(b.signed for b in blocks), b"".join(p.leaf for p in taken), [p.inbox_id for p in taken],
                               [b.seq for b in blocks])
        self._watermark[device] = summary.last_seq

    def wait_subscribed(self, timeout: float = 30.0) -> bool:
        """Wait until the broker confirmed the subscription (from then on the persistent session keeps messages)."""
        return self.subscribed.wait(timeout)

    def request_flush(self) -> None:
        """Ask the core thread to close every partial batch now and anchor (end of a block file, demo end)."""
        self.queue.put(_FLUSH)

    # ------------------------------------------------------------ anchor thread

    def _anchor_loop(self) -> None:
        store = GatewayStore(self.config.store_path, durable=self.config.durable)
        backoff, last_sent = 0.2, 0.0
        while not self._stop.is_set():
            self._anchor_wake.wait(timeout=0.2)
            self._anchor_wake.clear()
            try:
                for pending in store.pending_anchors():  # after a crash or a failed send: the same root again
                    self._send(store, pending)
                due = (time.monotonic() - last_sent >= self.config.anchor_interval_s or self._idle.is_set() or self._flush_anchor.is_set())
                closed = store.closed(self.config.max_batches_per_anchor) if due else []
                if closed:
                    self._flush_anchor.clear()
                    root = anchor_root([b.summary for b in closed])
                    aid = store.create_anchor(root, [b.id for b in closed])
                    last_sent = time.monotonic()
                    self._send(store, store.anchor(aid))
                    self._anchor_wake.set()  # more may be waiting
                backoff = 0.2
            except (FedpmError, OSError, ValueError) as exc:  # chain down or slow: retry with backoff
                log.warning("anchoring failed (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._anchor_wake.set()
        store.close()

    def _send(self, store: GatewayStore, a: StoredAnchor) -> None:
        try:
            rcpt = self.registry.anchor_root(self.sender, a.header)
        except ContractRevert as exc:
            if exc.error_name == "AlreadyAnchored":
                found = self.registry.find_anchor(a.root)
                if found is not None and (found.batches, found.readings, found.from_time, found.to_time) == (a.batches, a.readings, a.from_time, a.to_time):
                    store.mark_anchored(a.id, found.tx_hash, found.block_number, found.submitter)
                    log.info("anchor %s was already on chain: reconciled", found.root.hex()[:12])
                    return
            log.error("anchor %d rejected by the contract: %s", a.id, exc)
            store.mark_failed(a.id, exc.message)
            return
        store.mark_anchored(a.id, rcpt.tx_hash, rcpt.block_number, self.sender.address)

    # ------------------------------------------------------------ helpers for block files and tests

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until the queue is drained and every block received is in an anchored batch."""
        deadline = time.monotonic() + timeout
        probe = GatewayStore(self.config.store_path)
        try:
            while time.monotonic() < deadline:
                if self.queue.empty() and self._idle.is_set() and not probe.unanchored() and not probe.pending_anchors() and not probe.inbox():
                    return True
                time.sleep(0.02)
            return False
        finally:
            probe.close()

    def counters(self) -> dict[str, int]:
        """Blocks refused by this process, by reason."""
        return {r: self.refused.get(r, 0) for r in REFUSALS}
