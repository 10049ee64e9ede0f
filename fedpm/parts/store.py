"""The operator's part records (SQLite at `part_store_path(home)`): each record's canonical JSON, kept BEFORE its hash is
sent, and where it was anchored. An anchored record is never replaced: a part id is recorded once (as on chain)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fedpm.parts.records import PartRecord, PartRecordError
from fedpm.sqlstore import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    part TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    canonical TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    tx_hash TEXT,
    block_number INTEGER
);
"""


def part_store_path(home: Path) -> Path:
    return home / "parts" / "parts.sqlite"


@dataclass(frozen=True)
class StoredPart:
    record: PartRecord
    tx_hash: str | None
    block_number: int | None


class PartStore:
    """Only the writer passes `create=True` (`fedpm part record`, the demo): readers (show, passport, the explorer)
    never create the file, so a wrong home is an error naming it rather than an empty store left behind."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.db = open_db(self.path, create=create, tables=frozenset({"parts"}), noun="part store", error=PartRecordError,
                          hint="check --home / FEDPM_HOME; `fedpm part record` creates <home>/parts/parts.sqlite with the first part",
                          isolation_level=None)
        if create:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "PartStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, record: PartRecord) -> None:
        """Keep `record`. A part id kept and anchored is refused (PartRecordError); one kept but never anchored (its
        recording was refused or never sent) is replaced."""
        with self.db:
            anchored = self.db.execute("SELECT tx_hash IS NOT NULL FROM parts WHERE part = ?", (record.part,)).fetchone()
            if anchored and anchored[0]:
                raise PartRecordError(f"part {record.part} is already recorded here", hint="a part id is recorded once; give the new part its own id")
            self.db.execute("INSERT OR REPLACE INTO parts (part, machine, canonical, record_hash, tx_hash, block_number) VALUES (?, ?, ?, ?, NULL, NULL)",
                            (record.part, record.machine, record.canonical().decode(), record.hash))

    def mark_anchored(self, part: str, tx_hash: str, block_number: int) -> None:
        self.db.execute("UPDATE parts SET tx_hash = ?, block_number = ? WHERE part = ?", (tx_hash, block_number, part))

    def get(self, part: str) -> StoredPart | None:
        row = self.db.execute("SELECT canonical, tx_hash, block_number FROM parts WHERE part = ?", (part,)).fetchone()
        if row is None:
            return None
        return StoredPart(PartRecord.from_json(json.loads(row[0])), row[1], row[2])

    def parts(self, machine: str | None = None) -> list[str]:
        rows = self.db.execute("SELECT part FROM parts WHERE machine = COALESCE(?, machine) ORDER BY rowid", (machine,))
        return [p for (p,) in rows]
