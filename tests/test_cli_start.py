"""`fedpm --help` and the commands that need no chain load none of the heavy libraries: web3, eth-account (and
eth-utils under them), TensorFlow, matplotlib. Checked in a fresh interpreter by what ends up in `sys.modules`, not by
timing (the start time itself is a benchmark: bench/cli_start.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chain.keystore import Keystore
from chain.settings import KeySettings
from fedpm.cli import COMMANDS

HEAVY = ("web3", "eth_account", "eth_utils", "tensorflow", "keras", "matplotlib")

PROBE = """
import contextlib, io, json, sys
import fedpm.cli
imported = {"import": sorted(m for m in HEAVY if m in sys.modules)}
for args in ARGS:
    with contextlib.redirect_stdout(io.StringIO()):
        code = fedpm.cli.main(args)
    assert code == 0, (args, code)
    imported[" ".join(args)] = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps(imported))
"""


def probe(home, argv_list: list[list[str]]) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")} | {"FEDPM_HOME": str(home)}
    code = f"HEAVY = {HEAVY!r}\nARGS = {argv_list!r}\n{PROBE}"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_help_of_every_command_loads_no_heavy_library(tmp_path):
    # Prepare: `fedpm --help`, then the help of every registered command, in one interpreter
    groups = sorted({getattr(__import__(module, fromlist=[attr]), attr).name for module, attr in COMMANDS})
    argv_list = [["--help"]] + [[g, "--help"] for g in groups]
    # Execute
    imported = probe(tmp_path / "home", argv_list)
    # Assert: nothing heavy after importing the CLI, nor after any help
    assert imported == {key: [] for key in ["import", *(" ".join(a) for a in argv_list)]}


def test_account_list_loads_no_web3_nor_eth_account(tmp_path):
    # Prepare: a home with one keystore (listing it checksums its address: eth-utils, but no web3 or eth-account)
    home = tmp_path / "home"
    Keystore(home / "keystores", KeySettings(password="pw", scrypt_n=2, allow_weak_scrypt=True)).create("f1")
    # Execute
    imported = probe(home, [["account", "list"]])
    # Assert
    assert not set(imported["account list"]) & {"web3", "eth_account", "tensorflow", "keras", "matplotlib"}, imported
