"""Content-addressed storage: model updates and global models by CIDv0, the same CID kubo's `ipfs add` gives.

`open_store(settings)` picks the backend; `fetch_verified` is the checked read aggregators do before voting.
"""

from __future__ import annotations

from fl_node.settings import StorageConfig
from fl_node.storage.base import ContentStore, fetch_verified
from fl_node.storage.kubo import KuboStore
from fl_node.storage.local import LocalStore
from ground.errors import ConfigError

BACKENDS = ("local", "kubo")


def open_store(settings: StorageConfig) -> ContentStore:
    backend = settings.storage.backend
    if backend == "local":
        return LocalStore(settings.store_dir)
    if backend == "kubo":
        return KuboStore(settings.storage.ipfs_api)
    raise ConfigError(f"unknown storage backend {backend!r}", hint=f"set storage.backend (FEDPM_STORAGE_BACKEND) to one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "ContentStore", "fetch_verified", "open_store"]
