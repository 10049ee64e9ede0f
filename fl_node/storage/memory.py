"""In-memory content store for tests: same CIDs and errors as the real backends, nothing persisted."""

from __future__ import annotations

from fl_node.errors import ObjectNotFound
from fl_node.storage.base import check_cid
from fl_node.storage.cid import cid_of


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}  # public so tests can drop or tamper with an object
        self.pins: set[str] = set()

    def add(self, data: bytes) -> str:
        cid = cid_of(data)
        self.objects[cid] = bytes(data)
        self.pins.add(cid)
        return cid

    def cat(self, cid: str) -> bytes:
        try:
            return self.objects[check_cid(cid)]
        except KeyError:
            raise ObjectNotFound(cid) from None

    def has(self, cid: str) -> bool:
        return check_cid(cid) in self.objects

    def pin(self, cid: str) -> None:
        if not self.has(cid):
            raise ObjectNotFound(cid)
        self.pins.add(cid)
