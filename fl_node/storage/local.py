"""The embedded default store: one directory of objects named by CID, shared safely by several processes.

Layout: `<root>/objects/<last 2 chars of cid>/<cid>` holds the object's bytes (the whole file, not kubo's blocks:
one read per `cat`), `<root>/pins/<cid>` marks a pin. Writers put bytes in a temp file in the target directory
and rename it into place (`ground.files.atomic_write`), which is atomic on POSIX: a reader in another process sees no file or the whole
file, never a torn one, and two writers of the same CID write the same bytes. No locks are needed.
Nothing is ever garbage collected, so pins only record intent (and keep `pin` semantics equal to kubo's).
"""

from __future__ import annotations

from pathlib import Path

from fl_node.errors import IntegrityError, ObjectNotFound, StorageError
from fl_node.storage.base import check_cid
from fl_node.storage.cid import cid_of
from ground.files import atomic_write


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _object(self, cid: str) -> Path:
        return self.root / "objects" / cid[-2:] / check_cid(cid)

    def _failed(self, action: str, exc: OSError) -> StorageError:
        return StorageError(f"local store {self.root}: cannot {action}: {exc.strerror or exc}", hint=f"check that {self.root} exists, is writable and the disk is not full")

    def add(self, data: bytes) -> str:
        cid = cid_of(data)
        path = self._object(cid)
        try:
            atomic_write(path, data)  # rewrite even if present: heals a tampered copy, same bytes otherwise
        except OSError as exc:
            raise self._failed(f"write {cid}", exc) from exc
        self._mark_pinned(cid)
        return cid

    def cat(self, cid: str) -> bytes:
        path = self._object(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(cid) from None
        except OSError as exc:
            raise self._failed(f"read {cid}", exc) from exc
        if cid_of(data) != cid:  # the file was edited or corrupted on disk since it was added
            raise IntegrityError(f"local store object {path} does not hash to {cid}", hint=f"delete {path} and fetch the object again from its uploader")
        return data

    def has(self, cid: str) -> bool:
        return self._object(cid).is_file()

    def pin(self, cid: str) -> None:
        if not self.has(cid):
            raise ObjectNotFound(cid)
        self._mark_pinned(cid)

    def pinned(self, cid: str) -> bool:
        return (self.root / "pins" / check_cid(cid)).is_file()

    def _mark_pinned(self, cid: str) -> None:
        pins = self.root / "pins"
        try:
            pins.mkdir(parents=True, exist_ok=True)
            (pins / cid).touch()  # O_CREAT without O_EXCL: concurrent pinners both succeed
        except OSError as exc:
            raise self._failed(f"pin {cid}", exc) from exc
