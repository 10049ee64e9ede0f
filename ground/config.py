"""The typed config-section loader: frozen dataclasses filled from code, environment, file, defaults.

Precedence, highest first: code (`overrides` with dotted names, e.g. {"chain.rpc_url": "http://…"}) >
environment (`FEDPM_<SECTION>_<FIELD>`, e.g. `FEDPM_CHAIN_RPC_URL`) > file (a TOML mapping, e.g. `fedpm.toml`) >
the dataclass defaults. A field whose type is itself a dataclass is a section, loaded the same way. Each wing
defines its own sections (`chain.settings`, `fl_node.settings`, …); the application composes them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, Mapping, get_type_hints

from ground.errors import ConfigError

ENV_PREFIX = "FEDPM_"


def _coerce(value: Any, typ: Any, name: str) -> Any:
    """A value from the environment or a file, converted to the field's type (int, float, Path, bool, str)."""
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


def load_section(cls: type, prefix: str, overrides: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]) -> Any:
    """An instance of dataclass `cls`; `prefix` is its dotted name ("" for the root), `file` its part of the file."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub_file = file.get(f.name, {}) if isinstance(file.get(f.name, {}), Mapping) else {}
            values[f.name] = load_section(typ, dotted, overrides, env, sub_file)
            continue
        env_name = ENV_PREFIX + dotted.replace(".", "_").upper()
        if dotted in overrides:
            values[f.name] = overrides[dotted]
        elif env_name in env:
            values[f.name] = _coerce(env[env_name], typ, env_name)
        elif f.name in file:
            values[f.name] = _coerce(file[f.name], typ, dotted)
    return cls(**values)


def read_config_file(path: Path, *, required: bool, known: set[str]) -> dict[str, Any]:
    """The TOML mapping at `path` ({} when absent and not `required`); top-level keys must be in `known`."""
    if not path.is_file():
        if required:
            raise ConfigError(f"config file {path} does not exist", hint=f"create it or unset {ENV_PREFIX}CONFIG")
        return {}
    try:
        file = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint=f"fix the file or point {ENV_PREFIX}CONFIG elsewhere") from None
    unknown = set(file) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}", hint=f"known sections: {', '.join(sorted(known))}")
    return file
