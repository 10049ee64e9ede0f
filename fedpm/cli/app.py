"""What every CLI command gets: the settings, and a lazily opened chain context."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click
from web3 import Web3

from chain.connect import ChainContext, connect
from chain.keystore import Keystore
from fedpm.settings import Settings, load_settings
from ground.errors import FedpmError


@dataclass
class App:
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.overrides)

    @cached_property
    def ctx(self) -> ChainContext:
        from fedpm.hints import REVERT_HINTS  # the features' modules: imported when a command needs the chain

        return connect(self.settings, hints=REVERT_HINTS)

    @cached_property
    def keystore(self) -> Keystore:
        return Keystore(self.settings.keystore_dir, self.settings.keys)

    def address_of(self, who: str) -> str:
        """An address given as such, or the address of keystore account `who`."""
        if not who.startswith("0x"):
            return self.keystore.address(who)
        try:
            return Web3.to_checksum_address(who)
        except ValueError:
            raise FedpmError(f"{who!r} is not an address", hint="give a 0x address of 40 hex digits or a keystore name (fedpm account list)") from None


pass_app = click.make_pass_decorator(App)


def as_option(f: Any) -> Any:
    """`--as NAME`: the keystore account that signs."""
    return click.option("--as", "as_", metavar="ACCOUNT", required=True, help="keystore account that signs")(f)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
