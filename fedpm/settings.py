"""The app's one settings object: the home folder plus each wing's typed section.

Sections: `chain`, `keys` (chain.settings), `storage`, `fl` (fl_node.settings), `mqtt` (fedpm.sensors.settings), `serve`
(fedpm.prognostics.settings).
Precedence, highest first: code (overrides passed to `load_settings`) > environment (`FEDPM_<SECTION>_<FIELD>`,
e.g. `FEDPM_CHAIN_RPC_URL`) > file (`fedpm.toml` in the working directory, or the path in `FEDPM_CONFIG`) >
defaults (`ground.config` does the loading). Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from chain.settings import ChainSettings, KeySettings
from fedpm.prognostics.settings import ServeSettings
from fedpm.sensors.settings import MqttSettings
from fl_node.settings import FlSettings, StorageSettings
from ground.config import load_section, read_config_file


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".fedpm")  # keystores, deployments, content store, gateway state
    chain: ChainSettings = field(default_factory=ChainSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    fl: FlSettings = field(default_factory=FlSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)

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


def load_settings(overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build the settings. `overrides` uses dotted names: {"chain.rpc_url": "http://…", "home": Path(…)}."""
    env = os.environ if env is None else env
    path = config_file or Path(env.get("FEDPM_CONFIG", "fedpm.toml"))
    file = read_config_file(path, required=config_file is not None or "FEDPM_CONFIG" in env, known={f.name for f in dataclasses.fields(Settings)})
    return load_section(Settings, "", dict(overrides or {}), env, file)
