"""Optional filters of the local SQLite stores as one WHERE clause: a condition counts only when its value is set."""

from __future__ import annotations

from typing import Any


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """where(("machine = ?", m), ("status = ?", None)) -> (" WHERE machine = ?", [m]); no condition set -> ("", [])."""
    kept = [(clause, value) for clause, value in conditions if value is not None]
    if not kept:
        return "", []
    return " WHERE " + " AND ".join(clause for clause, _ in kept), [value for _, value in kept]
