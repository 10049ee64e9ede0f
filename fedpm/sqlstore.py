"""What the local SQLite stores (the gateway's, the maintenance records) share: opening one without ever creating
it by accident or writing into someone else's database, and optional filters as one WHERE clause."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ground.errors import FedpmError


def open_db(path: Path, *, create: bool, tables: frozenset[str], noun: str, error: type[FedpmError], hint: str, **connect: Any) -> sqlite3.Connection:
    """A connection (`sqlite3.connect(..., **connect)`) to the store `noun` at `path`.

    `create=True` (the store's writer) makes the file and its folder; otherwise a missing file is an `error`. Either
    way a file that is not SQLite, or an SQLite database holding other tables but not `tables`, is an `error` (with
    `hint`) and is left untouched: SQLite opens it `mode=rw`, never `rwc`, unless told to create it.
    """
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        raise error(f"no {noun} at {path}", hint=hint)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode={'rwc' if create else 'rw'}", uri=True, **connect)
    except sqlite3.DatabaseError as exc:
        raise error(f"cannot open the {noun} {path}: {exc}", hint=hint) from None
    try:
        found = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if (found or not create) and not tables <= found:
            raise error(f"{path} is an SQLite database but no {noun} (it has no {' or '.join(sorted(tables - found))} table)", hint=hint)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise error(f"{path} is not a {noun}: {exc}", hint=hint) from None
    except FedpmError:
        db.close()
        raise
    return db


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """where(("machine = ?", m), ("status = ?", None)) -> (" WHERE machine = ?", [m]); no condition set -> ("", [])."""
    kept = [(clause, value) for clause, value in conditions if value is not None]
    if not kept:
        return "", []
    return " WHERE " + " AND ".join(clause for clause, _ in kept), [value for _, value in kept]
