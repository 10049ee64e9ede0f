"""What every CLI command gets: the settings, and a lazily opened chain context.

Importing this (and every `fedpm/cli` module) loads no web3, eth-account or TensorFlow: `fedpm --help` and the
commands that need no chain start fast; the chain libraries load when a command first uses `ctx` or `keystore`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

import click

from fedpm.settings import Settings, load_settings
from ground.errors import FedpmError

if TYPE_CHECKING:
    from chain.connect import ChainContext
    from chain.keystore import Keystore


@dataclass
class App:
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.overrides)

    @cached_property
    def ctx(self) -> ChainContext:
        from chain.compile import is_compiled
        from chain.connect import connect
        from fedpm.hints import REVERT_FORMATS, REVERT_HINTS  # the features' modules: imported when a command needs the chain

        if is_compiled(self.settings.chain.evm_version):
            return connect(self.settings, hints=REVERT_HINTS, formats=REVERT_FORMATS)
        click.echo("compiling the contracts with solc-js (once per change of the sources; about half a minute)...", err=True)
        start = time.monotonic()
        ctx = connect(self.settings, hints=REVERT_HINTS, formats=REVERT_FORMATS)
        click.echo(f"compiled in {time.monotonic() - start:.0f} s; later commands reuse the artifacts", err=True)
        return ctx

    @cached_property
    def keystore(self) -> Keystore:
        from chain.keystore import Keystore

        return Keystore(self.settings.keystore_dir, self.settings.keys)

    def address_of(self, who: str) -> str:
        """An address given as such, or the address of keystore account `who`."""
        if not who.startswith("0x"):
            return self.keystore.address(who)
        from eth_utils import to_checksum_address

        try:
            return to_checksum_address(who)
        except ValueError:
            raise FedpmError(f"{who!r} is not an address", hint="give a 0x address of 40 hex digits or a keystore name (fedpm account list)") from None


pass_app = click.make_pass_decorator(App)


class IdParam(click.ParamType):
    """An id a contract keeps (task, round, proposal, lease): a whole number that fits a uint256, refused here, before
    anything reaches the chain, in one line."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not an id: ids are whole numbers", param, ctx)
        if not 0 <= number < 2**256:
            self.fail(f"{value} is not an id: ids are whole numbers from 0 up to 2**256-1", param, ctx)
        return number


ID = IdParam()


def as_option(f: Any) -> Any:
    """`--as NAME`: the keystore account that signs."""
    return click.option("--as", "as_", metavar="ACCOUNT", required=True, help="keystore account that signs")(f)


class ListenAddress(click.ParamType):
    """HOST:PORT (or PORT, on 127.0.0.1) to listen on."""

    name = "host:port"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        host, _, port = str(value).rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            self.fail(f"{value!r} is not HOST:PORT with a port from 1 to 65535 (e.g. 0.0.0.0:9101)", param, ctx)
        return host or "127.0.0.1", int(port)


def metrics_option(f: Any) -> Any:
    """`--metrics HOST:PORT`: serve this process's Prometheus metrics there (GET /metrics)."""
    return click.option("--metrics", "metrics_at", type=ListenAddress(), help="serve Prometheus metrics at HOST:PORT/metrics (e.g. 0.0.0.0:9101)")(f)


def start_metrics(metrics: Any, at: tuple[str, int]) -> Callable[[], None]:
    """Serve `metrics` (a fedpm.metrics.Metrics) in the background; says where on stderr; returns its stop()."""
    url, stop = metrics.serve(*at)
    click.echo(f"metrics at {url}", err=True)
    return stop


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
