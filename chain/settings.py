"""The chain wing's settings sections, `chain` and `keys` (loaded by `ground.config`), and what the chain layer
reads of the application's settings object (`ChainConfig`; `fedpm.settings.Settings` is one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ChainSettings:
    rpc_url: str | None = None  # None: use the chain `fedpm chain up` started, or start anvil (tests, demo)
    deployment_file: Path | None = None  # default: <home>/deployments/<chain id>.json
    evm_version: str = "paris"  # Besu QBFT genesis without Shanghai rejects PUSH0
    tx_timeout_s: float = 60.0
    log_chunk_blocks: int = 2000  # block range per eth_getLogs page
    poll_interval_s: float = 0.5


@dataclass(frozen=True)
class KeySettings:
    password: str | None = None  # keystore password; prefer password_file
    password_file: Path | None = None
    scrypt_n: int = 2**18  # eth-account's default; below 2**14 is refused unless allow_weak_scrypt
    allow_weak_scrypt: bool = False  # tests and the demo only: lets scrypt_n go below the floor, for speed


class ChainConfig(Protocol):
    """The settings the chain layer needs: its two sections and where the home folder keeps chain files."""

    @property
    def chain(self) -> ChainSettings: ...

    @property
    def keys(self) -> KeySettings: ...

    @property
    def keystore_dir(self) -> Path: ...

    @property
    def deployments_dir(self) -> Path: ...

    @property
    def chain_file(self) -> Path: ...
