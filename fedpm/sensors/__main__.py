"""`python -m fedpm.sensors gateway|simulate|verify ...`: the sensor commands without the full CLI."""

from __future__ import annotations

import sys

import click

from fedpm.errors import FedpmError


def main(argv: list[str] | None = None) -> int:
    from fedpm.cli import cli
    from fedpm.cli.sensors import gateway, simulate, verify

    for command in (gateway, simulate, verify):
        cli.add_command(command)
    try:
        cli.main(args=argv, standalone_mode=False)
    except FedpmError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
