"""The gateway's local SQLite store: write-ahead inbox, signed batches, anchors, proof data.

Readings are written to `inbox` (and their message digest to `seen`) and committed BEFORE the gateway
acknowledges the message, so an acknowledged reading is on disk. Closing a batch moves its inbox rows into
one `batches` row (canonical batch bytes, leaf hashes, root, device signature) in one transaction. A batch
is `signed` until its anchor is mined, then `anchored` (with tx hash, block and submitter, which with the
header make the on-chain `Anchor`). WAL with synchronous=NORMAL survives a killed process (the tests kill it);
pass `durable=True` for synchronous=FULL against power loss.

Sequenced blocks (see `fedpm.sensors.ingest`): each (machine, src, seq) received is a `blocks` row written in the
same transaction as its inbox row and linked to its batch when the batch closes. A seq seen before is a duplicate
(dropped, counted); `gaps()` lists the seqs never received below each stream's highest, so a reading lost before
the gateway (by the broker, the network) is reported by its block's seq instead of vanishing silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from fedpm.sensors.ingest import Parsed
from fedpm.sensors.signing import BatchHeader
from fedpm.sqlstore import open_db, where
from ground.errors import FedpmError

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    machine TEXT NOT NULL,
    n INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    records BLOB NOT NULL,
    src TEXT,
    seq INTEGER
);
CREATE TABLE IF NOT EXISTS blocks (
    machine TEXT NOT NULL,
    src TEXT NOT NULL,
    seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    batch_id INTEGER,
    PRIMARY KEY (machine, src, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (digest BLOB PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    machine TEXT NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    from_time INTEGER NOT NULL,
    to_time INTEGER NOT NULL,
    count INTEGER NOT NULL,
    root BLOB NOT NULL,
    signature BLOB NOT NULL,
    data BLOB NOT NULL,
    leaves BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'signed',
    error TEXT,
    tx_hash TEXT,
    block_number INTEGER,
    submitter TEXT,
    created REAL NOT NULL,
    UNIQUE (device, seq)
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status, id);
CREATE INDEX IF NOT EXISTS batches_machine_time ON batches (machine, from_time);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class StoredBatch:
    id: int
    machine: str
    device: str
    seq: int
    from_time: int
    to_time: int
    count: int
    root: bytes
    signature: bytes
    data: bytes
    leaves: bytes
    status: str
    error: str | None
    tx_hash: str | None
    block_number: int | None
    submitter: str | None

    @property
    def header(self) -> BatchHeader:
        return BatchHeader(self.machine, self.seq, self.from_time, self.to_time, self.count, self.root)


def gateway_store_path(home: Path) -> Path:
    """Where the gateway keeps its store unless told otherwise (the CLI's and the explorer's default)."""
    return home / "sensors" / "gateway.sqlite"


_COLS = "id, machine, device, seq, from_time, to_time, count, root, signature, data, leaves, status, error, tx_hash, block_number, submitter"


@dataclass(frozen=True)
class InboxRow:
    id: int
    machine: str
    n: int
    min_ts: int
    max_ts: int
    records: bytes
    src: str | None
    seq: int | None


@dataclass(frozen=True)
class Gap:
    """Seqs `first..last` (inclusive) of stream (machine, src) never received, though a later seq was."""

    machine: str
    src: str
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def to_json(self) -> dict:
        return {"machine": self.machine, "src": self.src, "first": self.first, "last": self.last}


_GAPS = """
SELECT machine, src, prev + 1, seq - 1 FROM (
    SELECT machine, src, seq, LAG(seq, 1, -1) OVER (PARTITION BY machine, src ORDER BY seq) AS prev FROM blocks {where}
) WHERE seq > prev + 1 ORDER BY machine, src, seq
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

    # ------------------------------------------------------------ inbox (write-ahead)

    def persist_messages(self, rows: Iterable[tuple[bytes, Parsed]], now: float | None = None) -> list[int | None]:
        """Store messages (digest, parsed) in one transaction.

        Returns each message's inbox id, or None for a duplicate (digest seen before, or a sequenced block whose
        (machine, src, seq) was received before: a redelivery)."""
        now = time.time() if now is None else now
        ids: list[int | None] = []
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for digest, p in rows:
                cur.execute("INSERT OR IGNORE INTO seen (digest, at) VALUES (?, ?)", (digest, now))
                if cur.rowcount == 0:
                    ids.append(None)
                    continue
                if p.seq is not None:
                    cur.execute("INSERT OR IGNORE INTO blocks (machine, src, seq, n) VALUES (?, ?, ?, ?)", (p.machine, p.src, p.seq, p.n))
                    if cur.rowcount == 0:
                        ids.append(None)
                        continue
                cur.execute("INSERT INTO inbox (machine, n, min_ts, max_ts, records, src, seq) VALUES (?, ?, ?, ?, ?, ?, ?)", (p.machine, p.n, p.min_ts, p.max_ts, p.records, p.src, p.seq))
                ids.append(cur.lastrowid)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return ids

    def inbox(self) -> list[InboxRow]:
        return [InboxRow(*r) for r in self.db.execute("SELECT id, machine, n, min_ts, max_ts, records, src, seq FROM inbox ORDER BY id")]

    def prune_seen(self, older_than: float) -> int:
        return self.db.execute("DELETE FROM seen WHERE at < ?", (older_than,)).rowcount

    def bump(self, name: str, by: int = 1) -> None:
        self.db.execute("INSERT INTO stats (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, by))

    def stats(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM stats"))

    # ------------------------------------------------------------ batches

    def close_batch(self, header: BatchHeader, device: str, signature: bytes, data: bytes, leaves: bytes, inbox_ids: list[int], blocks: Iterable[tuple[str, int]] = ()) -> int:
        """Atomically: insert the signed batch, link its sequenced blocks (src, seq) to it, delete the inbox rows it consumed."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(
                "INSERT INTO batches (machine, device, seq, from_time, to_time, count, root, signature, data, leaves, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (header.machine, device, header.device_seq, header.from_time, header.to_time, header.count, header.merkle_root, signature, data, leaves, time.time()),
            )
            bid = cur.lastrowid
            cur.executemany("UPDATE blocks SET batch_id = ? WHERE machine = ? AND src = ? AND seq = ?", [(bid, header.machine, src, seq) for src, seq in blocks])
            cur.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in inbox_ids])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return bid

    def next_seq(self, device: str) -> int:
        (m,) = self.db.execute("SELECT MAX(seq) FROM batches WHERE device = ?", (device,)).fetchone()
        return 0 if m is None else m + 1

    def unanchored(self, limit: int = 1000) -> list[StoredBatch]:
        return [StoredBatch(*r) for r in self.db.execute(f"SELECT {_COLS} FROM batches WHERE status = 'signed' ORDER BY id LIMIT ?", (limit,))]

    def mark_anchored(self, items: Iterable[tuple[int, str, int, str]]) -> None:
        """(batch id, tx hash, block number, submitter) for each mined batch."""
        with self.db:
            self.db.executemany("UPDATE batches SET status = 'anchored', tx_hash = ?, block_number = ?, submitter = ?, error = NULL WHERE id = ?", [(tx, blk, sub, bid) for bid, tx, blk, sub in items])

    def mark_failed(self, batch_id: int, status: str, error: str) -> None:
        with self.db:
            self.db.execute("UPDATE batches SET status = ?, error = ? WHERE id = ?", (status, error, batch_id))

    def batches(self, *, machine: str | None = None, status: str | None = None, from_ms: int | None = None, to_ms: int | None = None) -> Iterator[StoredBatch]:
        sql, args = where(("machine = ?", machine), ("status = ?", status), ("to_time >= ?", from_ms), ("from_time <= ?", to_ms))
        for r in self.db.execute(f"SELECT {_COLS} FROM batches" + sql + " ORDER BY machine, device, seq", args):
            yield StoredBatch(*r)

    def batches_after(self, machine: str, after_id: int) -> Iterator[StoredBatch]:
        """The machine's batches stored after batch id `after_id`, in storage order (incremental readers)."""
        for r in self.db.execute(f"SELECT {_COLS} FROM batches WHERE machine = ? AND id > ? ORDER BY id", (machine, after_id)):
            yield StoredBatch(*r)

    def batch(self, machine: str, seq: int) -> StoredBatch | None:
        r = self.db.execute(f"SELECT {_COLS} FROM batches WHERE machine = ? AND seq = ? ORDER BY id DESC LIMIT 1", (machine, seq)).fetchone()
        return StoredBatch(*r) if r else None

    # ------------------------------------------------------------ sequenced blocks

    def gaps(self, machine: str | None = None) -> list[Gap]:
        """Every run of seqs never received below the highest received seq of its (machine, src) stream."""
        if machine is None:
            return [Gap(*r) for r in self.db.execute(_GAPS.format(where=""))]
        return [Gap(*r) for r in self.db.execute(_GAPS.format(where="WHERE machine = ?"), (machine,))]  # the primary key's prefix

    def block_seqs(self, machine: str, src: str, status: str | None = None) -> list[int]:
        """The stream's received seqs in order; with `status`, only those whose batch has that status ('anchored')."""
        if status is None:
            rows = self.db.execute("SELECT seq FROM blocks WHERE machine = ? AND src = ? ORDER BY seq", (machine, src))
        else:
            rows = self.db.execute("SELECT k.seq FROM blocks k JOIN batches b ON b.id = k.batch_id WHERE k.machine = ? AND k.src = ? AND b.status = ? ORDER BY k.seq", (machine, src, status))
        return [s for (s,) in rows]

    def reception(self, machine: str | None = None) -> dict:
        """Per stream: blocks received and the highest seq; and the gaps (what `gateway status` and the explorer show)."""
        streams = [{"machine": m, "src": s, "blocks_received": n, "last_seq": hi}
                   for m, s, n, hi in self.db.execute("SELECT machine, src, COUNT(*), MAX(seq) FROM blocks WHERE machine = COALESCE(?, machine) GROUP BY machine, src ORDER BY machine, src", (machine,))]
        gaps = self.gaps(machine)
        return {"streams": streams, "gaps": [g.to_json() for g in gaps], "blocks_missing": sum(g.size for g in gaps)}

    def counts(self) -> dict[str, int]:
        out = {f"batches_{s}": n for s, n in self.db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status")}
        out["readings_anchored"] = self.db.execute("SELECT COALESCE(SUM(count), 0) FROM batches WHERE status = 'anchored'").fetchone()[0]
        out["readings_pending"] = self.db.execute("SELECT COALESCE(SUM(n), 0) FROM inbox").fetchone()[0] + self.db.execute("SELECT COALESCE(SUM(count), 0) FROM batches WHERE status = 'signed'").fetchone()[0]
        out["blocks_missing"] = sum(g.size for g in self.gaps())
        return out
