"""The gateway's local SQLite store: write-ahead inbox of verified signed blocks, batches, anchors, proof data.

A block the gateway accepted (its device's signature and binding checked) is written to `inbox`, and its
(device, seq) to `blocks`, and committed BEFORE the gateway acknowledges the message, so an acknowledged block is
on disk and a (device, seq) is accepted once, ever. Closing a batch moves one device's inbox rows into one
`batches` row (the signed blocks as frames, their leaf hashes, root and sequence range) in one transaction. The
anchor thread groups closed batches into an `anchors` row (the root of roots, `pending`) in one transaction, sends
it, and marks it `anchored` (tx hash, block, submitter: with the root these make the on-chain `Anchor`) with its
batches. WAL with synchronous=NORMAL survives a killed process (the tests kill it); pass `durable=True` for
synchronous=FULL against power loss.

`blocks` also tells which seqs of a device never arrived: `gaps()` lists the seqs below each device's highest
received one that are missing, so a block lost before the gateway (by the broker, the network) is reported by its
seq instead of vanishing silently. Refused blocks (unsigned, forged, unbound, replayed, out of sequence) only bump
counters in `stats`.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from fedpm.sensors.anchoring import Anchor, AnchorRoot, BatchSummary
from fedpm.sensors.encoding import SignedBlock
from fedpm.sqlstore import open_db, where
from ground.errors import FedpmError

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    machine TEXT NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    signed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    machine TEXT NOT NULL,
    n INTEGER NOT NULL,
    batch_id INTEGER,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    machine TEXT NOT NULL,
    device TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    blocks INTEGER NOT NULL,
    count INTEGER NOT NULL,
    from_time INTEGER NOT NULL,
    to_time INTEGER NOT NULL,
    root BLOB NOT NULL,
    data BLOB NOT NULL,
    leaves BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'closed',
    anchor_id INTEGER,
    anchor_index INTEGER,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status, id);
CREATE INDEX IF NOT EXISTS batches_machine_time ON batches (machine, from_time);
CREATE INDEX IF NOT EXISTS batches_device_seq ON batches (device, first_seq);
CREATE INDEX IF NOT EXISTS batches_anchor ON batches (anchor_id, anchor_index);
CREATE TABLE IF NOT EXISTS anchors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root BLOB NOT NULL UNIQUE,
    batches INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    from_time INTEGER NOT NULL,
    to_time INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    tx_hash TEXT,
    block_number INTEGER,
    submitter TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS anchors_status ON anchors (status, id);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

REFUSALS = ("unsigned", "forged", "unbound", "replayed", "out_of_sequence", "malformed")


@dataclass(frozen=True)
class StoredBatch:
    id: int
    machine: str
    device: str
    first_seq: int
    last_seq: int
    blocks: int
    count: int
    from_time: int
    to_time: int
    root: bytes
    data: bytes
    leaves: bytes
    status: str  # closed | anchoring | anchored | failed
    anchor_id: int | None
    anchor_index: int | None

    @property
    def summary(self) -> BatchSummary:
        return BatchSummary(self.machine, self.device, self.first_seq, self.last_seq, self.blocks, self.count, self.from_time, self.to_time, self.root)


@dataclass(frozen=True)
class StoredAnchor:
    id: int
    root: bytes
    batches: int
    readings: int
    from_time: int
    to_time: int
    status: str  # pending | anchored | failed
    error: str | None
    tx_hash: str | None
    block_number: int | None
    submitter: str | None

    @property
    def header(self) -> AnchorRoot:
        return AnchorRoot(self.root, self.batches, self.readings, self.from_time, self.to_time)

    @property
    def anchor(self) -> Anchor:
        """The on-chain Anchor (meaningful once anchored)."""
        return Anchor.of(self.header, self.submitter or "", self.block_number or 0, self.tx_hash or "")


def gateway_store_path(home: Path) -> Path:
    """Where the gateway keeps its store unless told otherwise (the CLI's and the explorer's default)."""
    return home / "sensors" / "gateway.sqlite"


_BATCH = "id, machine, device, first_seq, last_seq, blocks, count, from_time, to_time, root, data, leaves, status, anchor_id, anchor_index"
_ANCHOR = "id, root, batches, readings, from_time, to_time, status, error, tx_hash, block_number, submitter"


@dataclass(frozen=True)
class InboxRow:
    id: int
    machine: str
    device: str
    seq: int
    n: int
    min_ts: int
    max_ts: int
    signed: bytes


@dataclass(frozen=True)
class Gap:
    """Seqs `first..last` (inclusive) of `device`'s blocks never received, though a later seq was."""

    machine: str
    device: str
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def to_json(self) -> dict:
        return {"machine": self.machine, "device": self.device, "first": self.first, "last": self.last}


_GAPS = """
SELECT machine, device, prev + 1, seq - 1 FROM (
    SELECT machine, device, seq, LAG(seq, 1, -1) OVER (PARTITION BY device ORDER BY seq) AS prev FROM blocks WHERE machine = COALESCE(?, machine)
) WHERE seq > prev + 1 ORDER BY machine, device, seq
"""


class GatewayStoreError(FedpmError):
    """The gateway store is missing, or the file is no gateway store."""


_CORE_TABLES = frozenset({"inbox", "batches"})  # what makes a database a gateway store (an older one gains the rest on create)


class GatewayStore:
    """One connection; use one GatewayStore per thread (SQLite WAL lets them work side by side).

    `create=True` is the gateway's: it makes the file and its tables. Everyone else (status, verify, the explorer,
    training data) opens an existing store: a missing file or one that is no gateway store is a GatewayStoreError,
    so a mistyped `--store` never leaves an empty database behind nor reads as "0 batches"."""

    def __init__(self, path: Path, *, create: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.db = open_db(self.path, create=create, tables=_CORE_TABLES, noun="gateway store", error=GatewayStoreError,
                          hint="check --store: it names the SQLite file `fedpm gateway run` writes, by default <home>/sensors/gateway.sqlite",
                          timeout=30.0, isolation_level=None, check_same_thread=False)
        if create:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> sqlite3.Cursor:
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        return cur

    # ------------------------------------------------------------ inbox (write-ahead)

    def persist_blocks(self, blocks: Iterable[SignedBlock]) -> list[int | None]:
        """Store verified blocks in one transaction. Returns each block's inbox id, or None when its (device, seq)
        was received before (a redelivery or a replay: never stored twice)."""
        ids: list[int | None] = []
        cur = self._tx()
        try:
            for b in blocks:
                cur.execute("INSERT OR IGNORE INTO blocks (device, seq, machine, n) VALUES (?, ?, ?, ?)", (b.device, b.seq, b.machine, b.n))
                if cur.rowcount == 0:
                    ids.append(None)
                    continue
                cur.execute("INSERT INTO inbox (machine, device, seq, n, min_ts, max_ts, signed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (b.machine, b.device, b.seq, b.n, b.min_ts, b.max_ts, b.signed))
                ids.append(cur.lastrowid)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return ids

    def has_block(self, device: str, seq: int) -> bool:
        return self.db.execute("SELECT 1 FROM blocks WHERE device = ? AND seq = ?", (device, seq)).fetchone() is not None

    def inbox(self) -> list[InboxRow]:
        return [InboxRow(*r) for r in self.db.execute("SELECT id, machine, device, seq, n, min_ts, max_ts, signed FROM inbox ORDER BY id")]

    def bump(self, name: str, by: int = 1) -> None:
        self.db.execute("INSERT INTO stats (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, by))

    def stats(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM stats"))

    # ------------------------------------------------------------ batches

    def close_batch(self, summary: BatchSummary, data: bytes, leaves: bytes, inbox_ids: Sequence[int], seqs: Sequence[int]) -> int:
        """Atomically: insert the batch, link its blocks to it, delete the inbox rows it consumed."""
        cur = self._tx()
        try:
            s = summary
            cur.execute("INSERT INTO batches (machine, device, first_seq, last_seq, blocks, count, from_time, to_time, root, data, leaves, created) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (s.machine, s.device, s.first_seq, s.last_seq, s.blocks, s.readings, s.from_time, s.to_time, s.root, data, leaves, time.time()))
            bid = cur.lastrowid
            cur.executemany("UPDATE blocks SET batch_id = ? WHERE device = ? AND seq = ?", [(bid, s.device, seq) for seq in seqs])
            cur.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in inbox_ids])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return bid

    def watermarks(self) -> dict[str, int]:
        """Per device, the highest seq of its closed batches: a block at or below it can no longer be batched."""
        return dict(self.db.execute("SELECT device, MAX(last_seq) FROM batches GROUP BY device"))

    def closed(self, limit: int) -> list[StoredBatch]:
        """Closed batches no anchor covers yet, in closing order."""
        return [StoredBatch(*r) for r in self.db.execute(f"SELECT {_BATCH} FROM batches WHERE status = 'closed' ORDER BY id LIMIT ?", (limit,))]

    def batches(self, *, machine: str | None = None, device: str | None = None, status: str | None = None, from_ms: int | None = None,
                to_ms: int | None = None) -> Iterator[StoredBatch]:
        sql, args = where(("machine = ?", machine), ("device = ?", device), ("status = ?", status), ("to_time >= ?", from_ms), ("from_time <= ?", to_ms))
        for r in self.db.execute(f"SELECT {_BATCH} FROM batches" + sql + " ORDER BY machine, device, first_seq", args):
            yield StoredBatch(*r)

    def batches_after(self, machine: str, after_id: int) -> Iterator[StoredBatch]:
        """The machine's batches (of all its devices) stored after batch id `after_id`, in storage order (incremental readers)."""
        for r in self.db.execute(f"SELECT {_BATCH} FROM batches WHERE machine = ? AND id > ? ORDER BY id", (machine, after_id)):
            yield StoredBatch(*r)

    def batch(self, batch_id: int) -> StoredBatch | None:
        r = self.db.execute(f"SELECT {_BATCH} FROM batches WHERE id = ?", (batch_id,)).fetchone()
        return StoredBatch(*r) if r else None

    def batch_of_block(self, machine: str, seq: int, device: str | None = None) -> StoredBatch | None:
        """The batch holding block `seq` of `machine`'s device (the only one, or `device`)."""
        sql, args = where(("machine = ?", machine), ("device = ?", device), ("first_seq <= ?", seq), ("last_seq >= ?", seq))
        r = self.db.execute(f"SELECT {_BATCH} FROM batches" + sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return StoredBatch(*r) if r else None

    # ------------------------------------------------------------ anchors

    def create_anchor(self, root: AnchorRoot, batch_ids: Sequence[int]) -> int:
        """Atomically: record a pending anchor over `batch_ids` (in leaf order) and link them to it."""
        cur = self._tx()
        try:
            cur.execute("INSERT INTO anchors (root, batches, readings, from_time, to_time, created) VALUES (?,?,?,?,?,?)",
                        (root.root, root.batches, root.readings, root.from_time, root.to_time, time.time()))
            aid = cur.lastrowid
            cur.executemany("UPDATE batches SET status = 'anchoring', anchor_id = ?, anchor_index = ? WHERE id = ?", [(aid, i, b) for i, b in enumerate(batch_ids)])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return aid

    def pending_anchors(self) -> list[StoredAnchor]:
        return [StoredAnchor(*r) for r in self.db.execute(f"SELECT {_ANCHOR} FROM anchors WHERE status = 'pending' ORDER BY id")]

    def anchor(self, anchor_id: int) -> StoredAnchor | None:
        r = self.db.execute(f"SELECT {_ANCHOR} FROM anchors WHERE id = ?", (anchor_id,)).fetchone()
        return StoredAnchor(*r) if r else None

    def anchor_batches(self, anchor_id: int) -> list[StoredBatch]:
        """The batches of an anchor in leaf order."""
        return [StoredBatch(*r) for r in self.db.execute(f"SELECT {_BATCH} FROM batches WHERE anchor_id = ? ORDER BY anchor_index", (anchor_id,))]

    def mark_anchored(self, anchor_id: int, tx_hash: str, block_number: int, submitter: str) -> None:
        with self.db:
            self.db.execute("UPDATE anchors SET status = 'anchored', error = NULL, tx_hash = ?, block_number = ?, submitter = ? WHERE id = ?",
                            (tx_hash, block_number, submitter, anchor_id))
            self.db.execute("UPDATE batches SET status = 'anchored' WHERE anchor_id = ?", (anchor_id,))

    def mark_failed(self, anchor_id: int, error: str) -> None:
        with self.db:
            self.db.execute("UPDATE anchors SET status = 'failed', error = ? WHERE id = ?", (error, anchor_id))
            self.db.execute("UPDATE batches SET status = 'failed' WHERE anchor_id = ?", (anchor_id,))

    def unanchored(self) -> int:
        """Batches and anchors not yet anchored (closed or pending): what `wait_idle` waits for."""
        return self.db.execute("SELECT COUNT(*) FROM batches WHERE status IN ('closed', 'anchoring')").fetchone()[0]

    # ------------------------------------------------------------ reception

    def gaps(self, machine: str | None = None) -> list[Gap]:
        """Every run of seqs never received below the highest received seq of its device."""
        return [Gap(*r) for r in self.db.execute(_GAPS, (machine,))]

    def block_seqs(self, device: str, status: str | None = None) -> list[int]:
        """The device's received seqs in order; with `status`, only those whose batch has that status ('anchored')."""
        if status is None:
            rows = self.db.execute("SELECT seq FROM blocks WHERE device = ? ORDER BY seq", (device,))
        else:
            rows = self.db.execute("SELECT k.seq FROM blocks k JOIN batches b ON b.id = k.batch_id WHERE k.device = ? AND b.status = ? ORDER BY k.seq", (device, status))
        return [s for (s,) in rows]

    def reception(self, machine: str | None = None) -> dict:
        """Per device: blocks received and the highest seq; and the gaps (what `gateway status` and the explorer show)."""
        streams = [{"machine": m, "device": d, "blocks_received": n, "last_seq": hi}
                   for m, d, n, hi in self.db.execute("SELECT machine, device, COUNT(*), MAX(seq) FROM blocks WHERE machine = COALESCE(?, machine) "
                                                      "GROUP BY machine, device ORDER BY machine, device", (machine,))]
        gaps = self.gaps(machine)
        return {"streams": streams, "gaps": [g.to_json() for g in gaps], "blocks_missing": sum(g.size for g in gaps)}

    def counts(self) -> dict[str, int]:
        out = {f"batches_{s}": n for s, n in self.db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status")}
        out.update({f"anchors_{s}": n for s, n in self.db.execute("SELECT status, COUNT(*) FROM anchors GROUP BY status")})
        out["readings_anchored"] = self.db.execute("SELECT COALESCE(SUM(count), 0) FROM batches WHERE status = 'anchored'").fetchone()[0]
        out["readings_pending"] = (self.db.execute("SELECT COALESCE(SUM(n), 0) FROM inbox").fetchone()[0]
                                   + self.db.execute("SELECT COALESCE(SUM(count), 0) FROM batches WHERE status IN ('closed', 'anchoring')").fetchone()[0])
        out["blocks_missing"] = sum(g.size for g in self.gaps())
        return out

    def refusals(self) -> dict[str, int]:
        """Blocks refused, by reason (every reason present, zero when none)."""
        st = self.stats()
        return {r: st.get(r, 0) for r in REFUSALS}
