"""Mutation testing of the Solidity contracts: apply each mutant of solidity_mutants.toml to a copy of the repo,
run the forge tests there and, only if they all pass, the Python contract tests of the mutated file. A mutant is
killed when anything fails. Writes out/mutation/solidity.json and solidity.md. Not part of `make test`:
`make mutate-sol` (about a minute per mutant) before submitting changes to the contracts.

    python tools/mutation/run_solidity.py [--only ID ...] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MUTANTS_FILE = Path(__file__).with_name("solidity_mutants.toml")
OUT_DIR = REPO_ROOT / "out" / "mutation"
LINKED = (".venv", "node_modules")  # shared with the copy, never copied
SKIPPED = {"out", "build", ".fedpm", ".pytest_cache", ".hypothesis", ".build", ".cache", "__pycache__"}
FORGE_TIMEOUT = 900
PYTEST_TIMEOUT = 1200


class MutantError(Exception):
    """The mutant list does not fit the sources (or a mutant does not compile)."""


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    find: str
    replace: str
    description: str
    equivalent: str = ""


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | equivalent (survived, with a reason) | error
    killed_by: str = ""
    stage: str = ""  # forge | pytest
    seconds: float = 0.0
    detail: str = field(default="", repr=False)


def load_mutants(path: Path = MUTANTS_FILE) -> tuple[list[Mutant], dict[str, list[str]]]:
    data = tomllib.loads(path.read_text())
    mutants = [Mutant(**m) for m in data.get("mutant", [])]
    ids = [m.id for m in mutants]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise MutantError(f"{path.name}: duplicate mutant ids {dupes}")
    return mutants, data.get("python_tests", {})


def check_snippets(mutants: list[Mutant], root: Path) -> None:
    """Every `find` must occur exactly once in its file: fail loudly before running anything otherwise."""
    problems = []
    for m in mutants:
        src = root / m.file
        if not src.exists():
            problems.append(f"{m.id}: {m.file} does not exist")
            continue
        n = src.read_text().count(m.find)
        if n != 1:
            problems.append(f"{m.id}: snippet occurs {n} times in {m.file} (must be exactly once): {m.find.strip()[:80]!r}")
    if problems:
        raise MutantError("the mutant list does not match the sources; update tools/mutation/solidity_mutants.toml:\n  " + "\n  ".join(problems))


def apply(m: Mutant, root: Path) -> None:
    src = root / m.file
    text = src.read_text()
    src.write_text(text.replace(m.find, m.replace, 1))


def make_base(work: Path) -> Path:
    """A copy of the working tree (tracked and new files; .venv and node_modules linked), forge cache warmed."""
    base = work / "base"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        parts = Path(rel).parts
        if parts[0] in LINKED or SKIPPED.intersection(parts) or not (REPO_ROOT / rel).is_file():
            continue
        dst = base / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / rel, dst)
    for name in LINKED:
        (base / name).symlink_to((REPO_ROOT / name).resolve())
    (base / "build").symlink_to(work / "build", target_is_directory=True)  # py artifacts are keyed by source hash
    (work / "build").mkdir(exist_ok=True)
    return base


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SOLCX_BINARY_PATH"] = str(work / "solcx")
    env["PATH"] = os.pathsep.join([str(REPO_ROOT / "node_modules" / ".bin"), str(REPO_ROOT / ".venv" / "bin"), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    env["FOUNDRY_INVARIANT_SHRINK_RUN_LIMIT"] = "0"  # a kill needs the failure, not the shortest sequence
    env.pop("PYTHONPATH", None)
    return env


def run_forge(root: Path, env: dict[str, str]) -> tuple[bool, str, str]:
    """(passed, first failing test with its reason, output)."""
    forge = REPO_ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
    proc = subprocess.run([str(forge), "test", "--offline", "--fail-fast", "--color", "never"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=FORGE_TIMEOUT)
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return True, "", out
    if "Compiler run failed" in out or "Error: Compiler" in out:
        raise MutantError("the mutant does not compile:\n" + out[-3000:])
    return False, first_forge_failure(out), out


def first_forge_failure(out: str) -> str:
    """`suite::test (reason)` of the first [FAIL] in forge's output (invariant failures name the test later)."""
    lines = out.splitlines()
    suite = ""
    for i, line in enumerate(lines):
        ran = re.match(r"Ran \d+ tests? for (\S+)", line)
        if ran:
            suite = ran.group(1)
        fail = re.match(r"\[FAIL(?:: (.*?))?\](?: (\w+)\([^)]*\) \((?:gas|runs)|$)", line.strip())
        if fail:
            name = fail.group(2) or next((m.group(1) for later in lines[i + 1:] if (m := re.match(r"\s*(\w+)\([^)]*\) \((?:gas|runs)", later))), "?")
            reason = f" ({fail.group(1)})" if fail.group(1) else ""
            return f"{suite}::{name}{reason}"
    return "forge test (exit code non-zero)"


def run_pytest(root: Path, tests: list[str], env: dict[str, str]) -> tuple[bool, str, str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *tests], cwd=root, env=env,
                          capture_output=True, text=True, timeout=PYTEST_TIMEOUT)
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return True, "", out
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    return False, failed.group(1) if failed else f"pytest exit code {proc.returncode}", out


def run_one(m: Mutant, work: Path, base: Path, python_tests: dict[str, list[str]], env: dict[str, str]) -> Outcome:
    start = time.monotonic()
    copy = work / "mutant"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(base, copy, symlinks=True)  # with the baseline forge cache: only what the mutant touches recompiles
    apply(m, copy)
    ok, killer, out = run_forge(copy, env)
    outcome = Outcome(m, "killed", killer, "forge", detail=out[-4000:]) if not ok else None
    if outcome is None:
        tests = python_tests.get(m.file, [])
        ok, killer, out = run_pytest(copy, tests, env) if tests else (True, "", "")
        outcome = Outcome(m, "killed", killer, "pytest", detail=out[-4000:]) if not ok else Outcome(m, "equivalent" if m.equivalent else "survived")
    outcome.seconds = round(time.monotonic() - start, 1)
    shutil.rmtree(copy, ignore_errors=True)
    return outcome


def write_report(outcomes: list[Outcome], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("killed", "survived", "equivalent")}
    rows = [{"id": o.mutant.id, "file": o.mutant.file, "description": o.mutant.description, "status": o.status,
             "killed_by": o.killed_by, "stage": o.stage, "seconds": o.seconds, "equivalent_reason": o.mutant.equivalent} for o in outcomes]
    json_path = out_dir / "solidity.json"
    json_path.write_text(json.dumps({"total": len(outcomes), **counts, "mutants": rows}, indent=2) + "\n")
    lines = [
        "# Solidity mutants",
        "",
        f"{len(outcomes)} mutants: {counts['killed']} killed, {counts['survived']} survived, {counts['equivalent']} equivalent.",
        "Each mutant ran on a copy of the repo: the forge tests first, then (if they passed) the file's Python contract tests.",
        "",
        "| mutant | file | status | killed by | s |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        by = o.killed_by.replace("|", "\\|") if o.status == "killed" else (o.mutant.equivalent.replace("\n", " ") if o.status == "equivalent" else "**nothing**")
        lines.append(f"| `{o.mutant.id}`: {o.mutant.description} | {Path(o.mutant.file).name} | {o.status} | {by} | {o.seconds:g} |")
    md_path = out_dir / "solidity.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], metavar="ID", help="run only this mutant (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="report folder (default out/mutation)")
    args = ap.parse_args(argv)
    try:
        mutants, python_tests = load_mutants()
        check_snippets(mutants, REPO_ROOT)
        unknown = sorted(set(args.only) - {m.id for m in mutants})
        if unknown:
            raise MutantError(f"unknown mutant ids {unknown}; see `--list`")
    except (MutantError, tomllib.TOMLDecodeError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m.id:40} {m.file}: {m.description}")
        return 0
    selected = [m for m in mutants if not args.only or m.id in args.only]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="fedpm-mutsol-") as tmp:
        work = Path(tmp)
        base = make_base(work)
        env = env_for(work)
        subprocess.run([sys.executable, "-m", "chain.toolchain"], cwd=base, env=env, check=True, capture_output=True)  # solc shim in work/solcx
        print(f"baseline: forge test on the unmutated copy ({len(selected)} mutants to run)", flush=True)
        ok, killer, out = run_forge(base, env)
        if not ok:
            print(f"error: the forge tests fail without any mutant ({killer}); fix them first\n{out[-3000:]}", file=sys.stderr)
            return 2
        for i, m in enumerate(selected, 1):
            try:
                o = run_one(m, work, base, python_tests, env)
            except MutantError as exc:
                o = Outcome(m, "error", str(exc).splitlines()[0], detail=str(exc))
                print(str(exc), file=sys.stderr)
            except subprocess.TimeoutExpired as exc:
                o = Outcome(m, "killed", f"timeout after {exc.timeout}s: {' '.join(map(str, exc.cmd[-3:]))}", "timeout")
            outcomes.append(o)
            write_report(outcomes, args.out)  # after every mutant: an interrupted run keeps what it found
            what = f"killed by {o.stage}: {o.killed_by}" if o.status == "killed" else o.status.upper() if o.status != "equivalent" else "equivalent (survived, reason listed)"
            print(f"[{i}/{len(selected)}] {m.id}: {what} ({o.seconds:g}s)", flush=True)
    json_path, md_path = write_report(outcomes, args.out)
    survivors = [o.mutant.id for o in outcomes if o.status in ("survived", "error")]
    print(f"report: {md_path.relative_to(REPO_ROOT) if md_path.is_relative_to(REPO_ROOT) else md_path} and {json_path.name}")
    if survivors:
        print(f"surviving or broken mutants: {', '.join(survivors)}: add a test that kills each, or mark it equivalent with a reason", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
