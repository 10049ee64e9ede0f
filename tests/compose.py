"""Reading docker-compose.yml as `docker compose` would, without a container engine: YAML with merge keys resolved,
then `${VAR}`, `${VAR:-default}` and `$$` interpolated from an env file (compose-spec interpolation rules)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import yaml

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def interpolate(value: Any, env: dict[str, str], missing: set[str]) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group("name"), m.group("default")
            if env.get(name):
                return env[name]
            if default is None:
                missing.add(name)
                return ""
            return default
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    return value


def load_compose(path: Path, env: dict[str, str]) -> tuple[dict, set[str]]:
    """The compose document with merges resolved and variables interpolated, and the variables with no value."""
    missing: set[str] = set()
    return interpolate(yaml.safe_load(path.read_text()), env, missing), missing


def parse_cli(cli: click.Group, args: list[str]) -> click.Command:
    """Parse `args` with the real click app down to the leaf command, running nothing; UsageError if refused."""
    ctx = cli.make_context("fedpm", list(args), resilient_parsing=False)
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            raise click.UsageError(f"{' '.join(args)!r} names a group, not a command")
        name, sub, rest = command.resolve_command(ctx, rest)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command
