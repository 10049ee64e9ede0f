"""The prediction service's local record, `<home>/service/journal.sqlite`: which model version it served when, every
new prediction per machine (or why there was none), and every alert with its canonical bytes.

A prediction is recorded when something changed for the machine (a newer window, another model version, another
reason), not on every request, so the journal is the RUL trend the explorer plots. Alerts are kept byte for byte:
their keccak256 is the id a maintenance record answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedpm.prognostics.alerts import Alert

SCHEMA = """
CREATE TABLE IF NOT EXISTS served (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, task INTEGER, round INTEGER, model_hash TEXT, event TEXT NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, machine TEXT NOT NULL, at REAL NOT NULL, rul REAL, reason TEXT, detail TEXT,
    task INTEGER, round INTEGER, model_hash TEXT, from_ms INTEGER, to_ms INTEGER, batches TEXT
);
CREATE INDEX IF NOT EXISTS predictions_machine ON predictions (machine, id);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, machine TEXT NOT NULL, at REAL NOT NULL, level TEXT NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_machine ON alerts (machine, at);
"""


def journal_path(home: Path) -> Path:
    return Path(home) / "service" / "journal.sqlite"


@dataclass(frozen=True)
class PredictionRow:
    machine: str
    at: float
    rul: float | None
    reason: str | None
    detail: str | None
    task: int | None
    round: int | None
    model_hash: str | None
    from_ms: int | None
    to_ms: int | None
    batches: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "at": self.at, "rul": self.rul, "reason": self.reason, "detail": self.detail, "task": self.task,
                "round": self.round, "model_hash": self.model_hash, "from_ms": self.from_ms, "to_ms": self.to_ms, "batches": self.batches}


class Journal:
    """Thread-safe; one connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a lost last prediction after a power cut is recomputed; no fsync per row
        self.db.executescript(SCHEMA)
        self._last: dict[str, tuple] = {}

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # ------------------------------------------------------------ models served

    def served(self, event: str, task: int | None, round_: int | None, model_hash: str | None, detail: str = "") -> None:
        with self._lock:
            self.db.execute("INSERT INTO served (at, task, round, model_hash, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
                            (time.time(), task, round_, model_hash, event, detail))

    def served_log(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.db.execute("SELECT at, task, round, model_hash, event, detail FROM served ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": a, "task": t, "round": r, "model_hash": h, "event": e, "detail": d} for a, t, r, h, e, d in reversed(rows)]

    # ------------------------------------------------------------ predictions

    def record_prediction(self, row: PredictionRow) -> bool:
        """Keep `row` unless it says what the machine's last row said (same window, model and reason). True if kept."""
        return bool(self.record_predictions([row]))

    def record_predictions(self, rows: list[PredictionRow]) -> int:
        """`record_prediction` for many rows in one transaction; returns how many were kept."""
        keep = []
        with self._lock:
            for row in rows:
                key = (row.to_ms, row.model_hash, row.reason, int(row.rul is None))
                if row.machine not in self._last:
                    last = self.db.execute("SELECT to_ms, model_hash, reason, rul IS NULL FROM predictions WHERE machine = ? ORDER BY id DESC LIMIT 1",
                                           (row.machine,)).fetchone()
                    self._last[row.machine] = tuple(last) if last else ()
                if self._last[row.machine] != key:
                    self._last[row.machine] = key
                    keep.append((row.machine, row.at, row.rul, row.reason, row.detail, row.task, row.round, row.model_hash, row.from_ms, row.to_ms,
                                 json.dumps(row.batches)))
            if keep:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT INTO predictions (machine, at, rul, reason, detail, task, round, model_hash, from_ms, to_ms, batches) "
                                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)", keep)
                self.db.execute("COMMIT")
        return len(keep)

    def predictions(self, machine: str, limit: int = 5000) -> list[PredictionRow]:
        with self._lock:
            rows = self.db.execute("SELECT machine, at, rul, reason, detail, task, round, model_hash, from_ms, to_ms, batches FROM predictions "
                                   "WHERE machine = ? ORDER BY id DESC LIMIT ?", (machine, limit)).fetchall()
        return [PredictionRow(*r[:10], json.loads(r[10] or "[]")) for r in reversed(rows)]

    def machines(self) -> list[str]:
        with self._lock:
            return [m for (m,) in self.db.execute("SELECT DISTINCT machine FROM predictions ORDER BY machine")]

    # ------------------------------------------------------------ alerts

    def record_alert(self, alert: Alert) -> str:
        with self._lock:
            self.db.execute("INSERT OR IGNORE INTO alerts (id, machine, at, level, body) VALUES (?, ?, ?, ?, ?)",
                            (alert.id, alert.machine, float(alert.raised_at), alert.level, alert.canonical_bytes()))
        return alert.id

    def alerted_machines(self) -> set[str]:
        with self._lock:
            return {m for (m,) in self.db.execute("SELECT DISTINCT machine FROM alerts")}

    def alerts(self, machine: str | None = None) -> list[Alert]:
        with self._lock:
            sql = "SELECT body FROM alerts" + (" WHERE machine = ?" if machine else "") + " ORDER BY at, rowid"  # raised_at is whole seconds: ties in the order raised
            rows = self.db.execute(sql, (machine,) if machine else ()).fetchall()
        return [Alert.from_json(json.loads(bytes(b))) for (b,) in rows]

    def alert(self, alert_id: str) -> Alert | None:
        with self._lock:
            row = self.db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id.lower(),)).fetchone()
        return Alert.from_json(json.loads(bytes(row[0]))) if row else None
