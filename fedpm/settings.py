"""One settings object for fedpm, with a typed section per area.

Precedence, highest first: code (overrides passed to `load_settings`) > environment (`FEDPM_<SECTION>_<FIELD>`,
e.g. `FEDPM_CHAIN_RPC_URL`) > file (`fedpm.toml` in the working directory, or the path in `FEDPM_CONFIG`) >
defaults below. Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, get_type_hints

from fedpm.errors import ConfigError


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


@dataclass(frozen=True)
class StorageSettings:
    backend: str = "local"  # "local": embedded content store; "kubo": a kubo node's HTTP RPC
    ipfs_api: str = "http://127.0.0.1:5001"
    retries: int = 3


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    topic_root: str = "fedpm"


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".fedpm")  # keystores, deployments, content store, gateway state
    chain: ChainSettings = field(default_factory=ChainSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keystores"

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def chain_file(self) -> Path:
        """Written by `fedpm chain up`: where the local chain it started listens."""
        return self.home / "chain.json"


def _coerce(value: Any, typ: Any, name: str) -> Any:
    if value is None:
        return None
    text = str(value)
    try:
        if typ in (int, int | None):
            return int(text)
        if typ in (float, float | None):
            return float(text)
        if typ in (Path, Path | None):
            return Path(text).expanduser()
        if typ is bool:
            return text.lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise ConfigError(f"setting {name}={text!r} is not a valid {getattr(typ, '__name__', typ)}", hint="fix it in fedpm.toml or the environment") from None
    return text


def _section(cls: type, prefix: str, overrides: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub_file = file.get(f.name, {}) if isinstance(file.get(f.name, {}), Mapping) else {}
            values[f.name] = _section(typ, dotted, overrides, env, sub_file)
            continue
        env_name = "FEDPM_" + dotted.replace(".", "_").upper()
        if dotted in overrides:
            values[f.name] = overrides[dotted]
        elif env_name in env:
            values[f.name] = _coerce(env[env_name], typ, env_name)
        elif f.name in file:
            values[f.name] = _coerce(file[f.name], typ, dotted)
    return cls(**values)


def load_settings(overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build the settings. `overrides` uses dotted names: {"chain.rpc_url": "http://…", "home": Path(…)}."""
    env = os.environ if env is None else env
    path = config_file or Path(env.get("FEDPM_CONFIG", "fedpm.toml"))
    file: dict[str, Any] = {}
    if path.is_file():
        try:
            file = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the file or point FEDPM_CONFIG elsewhere") from None
    elif config_file is not None or "FEDPM_CONFIG" in env:
        raise ConfigError(f"config file {path} does not exist", hint="create it or unset FEDPM_CONFIG")
    known = {"home", "chain", "keys", "storage", "mqtt"}
    unknown = set(file) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}", hint=f"known sections: {', '.join(sorted(known))}")
    return _section(Settings, "", dict(overrides or {}), env, file)
