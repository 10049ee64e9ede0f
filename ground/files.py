"""Atomic file writes: a reader in another process sees the old file or the whole new one, never a torn one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # the project folder (holds contracts/, chain/, ground/, …)


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644, sync: bool = True) -> None:
    """Write `data` to a temp file beside `path`, fsync it, and rename it over `path` (atomic on POSIX).

    Creates the parent folder. Text is written as UTF-8. On failure the temp file is removed and `path` is untouched.
    `sync=False` skips the fsync, for small files rewritten on a hot path: the rename is still atomic for every
    other process and survives this process being killed, but not a power loss (the file may then be old or empty).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except FileNotFoundError:  # the folder is new (checked only then: this runs on hot paths)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if sync:
                os.fsync(f.fileno())  # the rename must not publish a file whose bytes are still in flight
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
