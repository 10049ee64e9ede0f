"""The federated-learning wing's settings sections, `storage` and `fl` (loaded by `ground.config`), and what the
content store reads of the application's settings object (`StorageConfig`; `fedpm.settings.Settings` is one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ground.files import REPO_ROOT


def default_cmapss_file() -> Path:
    """Where the project keeps NASA C-MAPSS FD001: `../shared/data/cmapss/train_FD001.txt` from the project root."""
    return REPO_ROOT.parent / "shared" / "data" / "cmapss" / "train_FD001.txt"


@dataclass(frozen=True)
class StorageSettings:
    backend: str = "local"  # "local": embedded content store; "kubo": a kubo node's HTTP RPC
    ipfs_api: str = "http://127.0.0.1:5001"
    retries: int = 3  # a node's verified fetches (base model, updates) try this many more times before giving up


@dataclass(frozen=True)
class FlSettings:
    data: Path | None = None  # C-MAPSS training file of the demo, the benches and the experiment; None: default_cmapss_file()

    @property
    def data_file(self) -> Path:
        return self.data or default_cmapss_file()


class StorageConfig(Protocol):
    """The settings `fl_node.storage.open_store` needs: the storage section and the embedded store's folder."""

    @property
    def storage(self) -> StorageSettings: ...

    @property
    def store_dir(self) -> Path: ...
