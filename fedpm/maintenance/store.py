"""The operator's off-chain maintenance records: one SQLite file, `<home>/maintenance.sqlite`.

Rows keep the record's canonical JSON (the content, never trusted blindly: the audit re-hashes it), the hash
it had when written, and its anchoring state: `pending` (not yet on chain: resubmitted by the next `add` or by
`fedpm maintenance sync`), `anchored` (with transaction hash, block and position), or `rejected` (the chain
refused it for good, e.g. NotMachineParty; kept with the reason, never resubmitted).
"""

from __future__ import annotations

import json
import sqlite3
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from fedpm.maintenance.audit import LocalEntry
from fedpm.maintenance.records import InvalidRecord, Record, canonical_bytes, parse_canonical
from fedpm.sqlstore import open_db, where
from ground.errors import FedpmError

PENDING, ANCHORED, REJECTED = "pending", "anchored", "rejected"

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    machine      TEXT NOT NULL,
    record_hash  TEXT NOT NULL UNIQUE,
    canonical    TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    tx_hash      TEXT,
    block        INTEGER,
    chain_index  INTEGER,
    error        TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_machine ON records (machine, seq);
"""


class RecordStoreError(FedpmError):
    """The local maintenance store refused an operation."""


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    machine: str
    record_hash: str
    canonical: str
    status: str
    tx_hash: str | None
    block: int | None
    chain_index: int | None
    error: str | None
    created_at: int = 0

    def record(self) -> Record:
        return parse_canonical(self.canonical)

    def to_local_entry(self) -> LocalEntry:
        try:
            record: Record | None = self.record()
        except InvalidRecord:
            record = None
        return LocalEntry(seq=self.seq, record=record, stored_hash=self.record_hash, chain_index=self.chain_index, pending=self.status == PENDING)

    def to_json(self) -> dict[str, object]:
        try:
            record: object = json.loads(self.canonical)
        except ValueError:
            record = self.canonical
        return {"seq": self.seq, "machine": self.machine, "record_hash": self.record_hash, "status": self.status,
                "tx_hash": self.tx_hash, "block": self.block, "chain_index": self.chain_index, "error": self.error, "record": record}


def record_store_path(home: Path) -> Path:
    """Where the operator's maintenance records live (the CLI's, the demo's and the explorer's)."""
    return Path(home) / "maintenance.sqlite"


class RecordStore:
    """`with RecordStore(path) as store:` — opens the SQLite file; one connection per instance.

    Only writers pass `create=True` (`maintenance add`, the demo): readers (list, export, sync, audit, the explorer)
    never create the file, so a wrong home is an error naming it rather than an empty store left behind."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.create = create
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> "RecordStore":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        db = open_db(self.path, create=self.create, tables=frozenset({"records"}), noun="local maintenance store", error=RecordStoreError,
                     hint="check --home / FEDPM_HOME; `fedpm maintenance add` creates <home>/maintenance.sqlite with the first record",
                     timeout=10, check_same_thread=False)
        if self.create:
            db.executescript(SCHEMA)
        db.row_factory = sqlite3.Row
        self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    def add(self, record: Record) -> StoredRecord:
        """Keep `record` locally as pending. The same record twice is refused (its hash is its identity)."""
        h = record.hash
        try:
            with self.db:
                cur = self.db.execute("INSERT INTO records (machine, record_hash, canonical, status, created_at) VALUES (?, ?, ?, ?, ?)",
                                      (record.machine, h, canonical_bytes(record).decode(), PENDING, int(_time.time())))
        except sqlite3.IntegrityError:
            raise RecordStoreError(f"record {h} is already in the local store", hint="change the record (a correction is a new record with --corrects)") from None
        return self.get(int(cur.lastrowid or 0))

    def get(self, seq: int) -> StoredRecord:
        row = self.db.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise RecordStoreError(f"no local record #{seq}", hint="list them with `fedpm maintenance list`")
        return StoredRecord(**dict(row))

    def by_hash(self, record_hash: str) -> StoredRecord | None:
        row = self.db.execute("SELECT * FROM records WHERE record_hash = ?", (record_hash,)).fetchone()
        return StoredRecord(**dict(row)) if row else None

    def records(self, machine: str | None = None, *, status: str | None = None) -> list[StoredRecord]:
        sql, args = where(("machine = ?", machine), ("status = ?", status))
        return [StoredRecord(**dict(r)) for r in self.db.execute("SELECT * FROM records" + sql + " ORDER BY seq", args)]

    def machines(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT machine FROM records ORDER BY machine")]

    def pending(self) -> list[StoredRecord]:
        return self.records(status=PENDING)

    def local_entries(self, machine: str) -> list[LocalEntry]:
        """What the audit compares with the chain (rejected records were never accepted and are left out)."""
        return [r.to_local_entry() for r in self.records(machine) if r.status != REJECTED]

    def mark_anchored(self, seq: int, tx_hash: str | None, block: int | None, chain_index: int | None) -> None:
        with self.db:
            self.db.execute("UPDATE records SET status = ?, tx_hash = ?, block = ?, chain_index = ?, error = NULL WHERE seq = ?",
                            (ANCHORED, tx_hash, block, chain_index, seq))

    def mark_pending(self, seq: int, error: str) -> None:
        with self.db:
            self.db.execute("UPDATE records SET status = ?, error = ? WHERE seq = ?", (PENDING, error, seq))

    def mark_rejected(self, seq: int, error: str) -> None:
        with self.db:
            self.db.execute("UPDATE records SET status = ?, error = ? WHERE seq = ?", (REJECTED, error, seq))

    def __iter__(self) -> Iterator[StoredRecord]:
        return iter(self.records())


def format_records_table(rows: list[StoredRecord]) -> str:
    """`fedpm maintenance list`: one line per local record."""
    table = [("#", "MACHINE", "STATUS", "KIND", "COMPONENT", "RECORD HASH", "TX", "BLOCK")]
    for r in rows:
        try:
            rec = r.record()
            kind, component = rec.kind.label, rec.component
        except InvalidRecord:
            kind, component = "?", "(unreadable)"
        table.append((str(r.seq), r.machine, r.status, kind, component, r.record_hash, r.tx_hash or "-", "-" if r.block is None else str(r.block)))
    if len(table) == 1:
        return "no local maintenance records"
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip() for row in table)
