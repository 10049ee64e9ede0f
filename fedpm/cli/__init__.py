"""`fedpm`: a thin command line over chain/, fl_node/ and the feature packages: one click group per noun, one file per area.

User errors (`FedpmError`, and click's usage errors) print one line, `error: <what> (<fix>)`, and exit non-zero
without a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from fedpm.cli.app import App
from ground.errors import FedpmError

# Command modules, imported when the CLI runs (not when fedpm is imported): (module, attribute).
COMMANDS = [
    ("fedpm.cli.status", "status"),
    ("fedpm.cli.chain_cmd", "chain"),
    ("fedpm.cli.chain_cmd", "deploy"),
    ("fedpm.cli.account", "account"),
    ("fedpm.cli.consortium", "consortium"),
    ("fedpm.cli.machine", "machine"),
    ("fedpm.cli.device", "device"),
    ("fedpm.cli.fl", "task"),
    ("fedpm.cli.fl", "round_"),
    ("fedpm.cli.fl", "node"),
    ("fedpm.cli.fl", "evaluate"),
    ("fedpm.cli.maintenance", "maintenance"),
    ("fedpm.cli.maintenance", "audit"),
    ("fedpm.cli.maintenance", "explorer"),
    ("fedpm.cli.sensors", "gateway"),
    ("fedpm.cli.sensors", "simulate"),
    ("fedpm.cli.sensors", "verify"),
    ("fedpm.cli.lease", "lease"),
    ("fedpm.cli.lease", "token"),
    ("fedpm.cli.models", "model"),
    ("fedpm.cli.serve", "serve"),
    ("fedpm.cli.serve", "health"),
    ("fedpm.cli.parts", "part"),
    ("fedpm.cli.network", "network"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), help="fedpm state folder (default .fedpm; env FEDPM_HOME)")
@click.option("--rpc-url", help="JSON-RPC URL of the chain (env FEDPM_CHAIN_RPC_URL)")
@click.pass_context
def cli(click_ctx: click.Context, home: Path | None, rpc_url: str | None) -> None:
    """fedpm: collaborative predictive maintenance on a consortium chain."""
    overrides = {}
    if home:
        overrides["home"] = home
    if rpc_url:
        overrides["chain.rpc_url"] = rpc_url
    click_ctx.obj = App(overrides)


def _register() -> None:
    for module, attr in COMMANDS:
        cli.add_command(getattr(importlib.import_module(module), attr))


def main(argv: list[str] | None = None) -> int:
    _register()
    try:
        cli.main(args=argv, standalone_mode=False)
    except FedpmError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # a bad option or argument: one line, like every other user error
        where = exc.ctx.command_path if exc.ctx else "fedpm"
        click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
