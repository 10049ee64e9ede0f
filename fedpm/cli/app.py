"""What every CLI command gets: the settings, and a lazily opened chain context."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click

from chain.connect import ChainContext, connect
from fedpm.settings import Settings, load_settings


@dataclass
class App:
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.overrides)

    @cached_property
    def ctx(self) -> ChainContext:
        return connect(self.settings)


pass_app = click.make_pass_decorator(App)


def as_option(f: Any) -> Any:
    """`--as NAME`: the keystore account that signs."""
    return click.option("--as", "as_", metavar="ACCOUNT", required=True, help="keystore account that signs")(f)


def echo_json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
