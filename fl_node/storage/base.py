"""The content-store interface every backend implements, and the verified fetch aggregators use before voting."""

from __future__ import annotations

import time
from typing import Callable, Protocol, runtime_checkable

from eth_utils import keccak

from fl_node.errors import IntegrityError, ObjectNotFound, StorageError
from fl_node.storage.cid import is_cid


@runtime_checkable
class ContentStore(Protocol):
    """Objects addressed by their CIDv0 (`fl_node.storage.cid.cid_of`), so every backend names bytes alike.

    Missing objects raise `ObjectNotFound`; a failing backend raises `StorageError` with a hint."""

    def add(self, data: bytes) -> str:
        """Store and pin `data`; return its CID."""
        ...

    def cat(self, cid: str) -> bytes: ...

    def has(self, cid: str) -> bool: ...

    def pin(self, cid: str) -> None:
        """Keep `cid` from garbage collection; `ObjectNotFound` if this store cannot get it."""
        ...


class InvalidCid(StorageError):
    """A content id that is not a CIDv0: a caller's mistake, never worth a retry."""


def check_cid(cid: str) -> str:
    """`cid` if it is a CIDv0, else `InvalidCid` (backends build file names and URLs from it)."""
    if not is_cid(cid):
        raise InvalidCid(f"{cid!r} is not a CIDv0", hint="content ids are base58 CIDv0 strings starting with Qm")
    return cid


def fetch_verified(
    store: ContentStore,
    cid: str,
    expected_keccak: bytes,
    retries: int = 3,
    backoff: float = 0.5,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """The bytes of `cid`, checked against the keccak256 committed on chain.

    A missing object or failing backend is retried `retries` more times, waiting `backoff`, 2*`backoff`, … seconds
    (the uploader may still be pinning, or a peer still connecting). A hash mismatch is never retried: it is
    evidence against the uploader, and aggregators must not vote for it."""
    if len(expected_keccak) != 32:
        raise ValueError(f"expected_keccak must be 32 bytes, got {len(expected_keccak)}")
    retries = max(retries, 0)
    for attempt in range(retries + 1):
        try:
            data = store.cat(cid)
            break
        except (IntegrityError, InvalidCid):
            raise
        except StorageError:  # includes ObjectNotFound
            if attempt == retries:
                raise
            sleep(backoff * 2**attempt)
    actual = keccak(data)
    if actual != expected_keccak:
        raise IntegrityError(
            f"object {cid} hashes to keccak {actual.hex()}, not the committed {expected_keccak.hex()}",
            hint="the uploader published different bytes than it committed; do not vote for this update",
        )
    return data


__all__ = ["ContentStore", "InvalidCid", "ObjectNotFound", "StorageError", "IntegrityError", "check_cid", "fetch_verified"]
