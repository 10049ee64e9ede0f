"""How fast the `fedpm` command starts. Prints one JSON object.

Runs the installed entry point (the `fedpm` console script beside this Python) as a user would, `--runs` times each,
side by side in one run, and reports medians of the whole process's wall time (`*_s`) and CPU time (`*_cpu_s`, user +
system: less sensitive to other load on a shared machine):
  help_s          `fedpm --help` (target < 0.5 s: every CLI module imports web3, eth-account, TensorFlow only inside
                  the commands that use them)
  read_s          `fedpm account list` on a home holding one keystore (a read command that needs no chain)
  python_s        `python -c pass`: the interpreter's own start, the floor under both
  web3_import_s   `python -c "import web3"`: what any command that talks to the chain pays on top, for scale
Usage: python bench/cli_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HELP_TARGET_S = 0.5


def entry_point() -> str:
    script = Path(sys.executable).with_name("fedpm")
    if not script.exists():
        sys.exit(f"error: no fedpm entry point beside {sys.executable} (run `make install`)")
    return str(script)


def medians(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `cmd`, in seconds."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)


def make_home(home: Path) -> None:
    from chain.keystore import Keystore
    from chain.settings import KeySettings

    Keystore(home / "keystores", KeySettings(password="bench", scrypt_n=2, allow_weak_scrypt=True)).create("bench-account")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    fedpm = entry_point()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        make_home(home)
        env = {**os.environ, "FEDPM_HOME": str(home)}
        result: dict[str, object] = {"runs": args.runs}
        for key, cmd in (("help", [fedpm, "--help"]), ("read", [fedpm, "account", "list"]),
                         ("python", [sys.executable, "-c", "pass"]), ("web3_import", [sys.executable, "-c", "import web3"])):
            result[f"{key}_s"], result[f"{key}_cpu_s"] = medians(cmd, args.runs, env)
    result["help_target_s"] = HELP_TARGET_S
    result["help_ok"] = result["help_s"] < HELP_TARGET_S
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)  # a shared machine: read the figures with this in mind
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
