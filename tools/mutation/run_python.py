"""Mutation testing of the pure Python cores with cosmic-ray (`make mutate-py`; not part of `make test`).

For each module of tools/mutation/python.toml, one at a time: copy the project's Python sources into
out/mutation/work/<module>/ (cosmic-ray mutates files in place, so the work tree is never touched),
`cosmic-ray init` there, run the module's fast unit tests once unmutated (baseline; sets the timeout), then
cosmic-ray's own `exec` with only those tests. Writes out/mutation/python/<module>.json (every mutant and its
outcome), then out/mutation/python.json (per module: total, killed, survived, equivalent, score) and
out/mutation/python.md (surviving mutants as diffs, equivalent ones with their reasons from equivalent.toml).
Exit status 1 when a module scores below --min-score. Usage, from the repository root:
  python -m tools.mutation.run_python [--module aggregate ...] [--min-score 0.9] [--survivors-only]
--survivors-only tests again only the mutants that survived the previous run and keeps the previous kills: sound
while the module is unchanged (checked) and its tests were only added to (not checked), e.g. after writing tests
for the survivors; run without it before submitting.

Speed (2 shared cores): cosmic-ray would start a fresh interpreter and pytest per mutant (~2-3 s, most of it
importing numpy, hypothesis, eth-account and the venv's pytest plugins). Here each mutant's tests run in a fork
of this process, which imported those third-party modules once and none of the project's, so the child imports
the mutated module from disk; only cosmic-ray's subprocess runner is swapped for that fork.
"""

from __future__ import annotations

import argparse
import compileall
import difflib
import hashlib
import importlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from tools.mutation.report import Mutant, changed_lines, kept, load_equivalents, mutant_from_dump, report_json, report_markdown, summarize

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PACKAGES = ("ground", "chain", "fl_node", "tasks", "fedpm")
# Hypothesis without its example database and with examples fixed by each test's source: every mutant faces
# the same inputs whatever ran before it, and no deadline turns a loaded machine into a false kill. 25 examples
# where a test does not set its own number (100 in `make test`): fewer inputs can only let more mutants survive.
CONFTEST = ('from hypothesis import settings\n\n'
            'settings.register_profile("mutation", database=None, derandomize=True, deadline=None, max_examples=25)\n')
# Only the hypothesis plugin: the venv's other pytest plugins (ape, web3, ...) cost ~2 s per run. One BLAS
# thread, so that forking after numpy's import is safe.
TEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1"}


def fail(message: str) -> None:
    sys.exit(f"error: {message}")


def pytest_args(tests: list[str]) -> list[str]:
    return ["-x", "-q", "-p", "no:cacheprovider", "-p", "hypothesis.extra.pytestplugin", "--hypothesis-profile=mutation", *tests]


def prepare(work: Path) -> None:
    """A fresh copy of the project's Python sources (tracked and untracked, not ignored) and its pytest config."""
    shutil.rmtree(work, ignore_errors=True)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", *PACKAGES], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for rel in [p for p in listed if p.endswith(".py")] + ["pyproject.toml"]:
        if (ROOT / rel).is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, work / rel)
    (work / "conftest.py").write_text(CONFTEST)


def precompile(work: Path, path: str) -> None:
    """Bytecode for every module but the mutated one, so that each mutant's run compiles only that one. Its own
    .pyc must never exist: a mutant of the same size written within the same second would pass as up to date."""
    compileall.compile_dir(work, quiet=2, workers=1)
    for pyc in (work / path).parent.joinpath("__pycache__").glob(Path(path).stem + ".*.pyc"):
        pyc.unlink()


def warm_up(work: Path, tests: list[str]) -> None:
    """Import the tests and so their third-party dependencies, then forget every module loaded from `work`."""
    sys.path.insert(0, str(work))
    try:
        import hypothesis.extra.pytestplugin  # noqa: F401
        import pytest  # noqa: F401
        for test in tests:
            importlib.import_module(test.removesuffix(".py").replace("/", "."))
    finally:
        sys.path.remove(str(work))
        for name, module in list(sys.modules.items()):
            if Path(getattr(module, "__file__", None) or "/").resolve().is_relative_to(work.resolve()):
                del sys.modules[name]


def forked_pytest(work: Path, args: list[str], timeout: float) -> tuple[str, str]:
    """("killed" | "survived", output) of pytest run in a fork of this process; a timeout counts as killed."""
    output = work / "test-output.txt"
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: own process group (a test's subprocesses die with it), output to a file
        code = 70
        try:
            os.setpgid(0, 0)
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1), os.dup2(fd, 2)
            os.chdir(work)
            import pytest
            code = int(pytest.main(args))
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "killed", "timeout"
        time.sleep(0.005)
    text = output.read_text(errors="replace")
    return ("survived" if os.waitstatus_to_exitcode(status[1]) == 0 else "killed"), text


def runner(name: str, work: Path, args: list[str], total: int) -> Callable[[str, float], tuple]:
    """cosmic-ray's run_tests(command, timeout), replaced by the forked run; prints progress every 10%."""
    from cosmic_ray.work_item import TestOutcome
    counts = {"killed": 0, "survived": 0}
    started = time.monotonic()

    def run_tests(_command: str, timeout: float) -> tuple:
        outcome, text = forked_pytest(work, args, timeout)
        counts[outcome] += 1
        done = sum(counts.values())
        if done == total or done * 10 // total != (done - 1) * 10 // total:
            print(f"  {name}: {done}/{total} run, {counts['survived']} survived, {time.monotonic() - started:.0f} s", flush=True)
        return TestOutcome(outcome), text
    return run_tests


def previous_kills(out: Path, name: str, path: str) -> dict[tuple[str, int, str], tuple[str, str]]:
    """(operator, line, mutated text) -> (diff, killed_by) of the mutants the previous run of this module killed.
    The mutated text is part of the key: one operator makes several mutants at one position (1 -> 0, 1 -> 2)."""
    results = out / "python" / f"{name}.json"
    if not results.is_file():
        fail(f"--survivors-only needs a previous run of {name}; run without it first")
    record = json.loads(results.read_text())
    if record["source_sha256"] != hashlib.sha256((ROOT / path).read_bytes()).hexdigest():
        fail(f"{path} changed since its previous run; run without --survivors-only")
    return {(m["operator"], m["line"], m["after"]): (m["diff"], m.get("killed_by", "")) for m in record["mutants"] if m["outcome"] == "killed"}


def skip_unkept(db) -> int:
    """Mark the replacements that do not count (report.kept) as skipped, so that exec leaves them out."""
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    skipped = [item.job_id for item in db.pending_work_items if not kept(item.mutations[0].operator_name)]
    if skipped:
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    return len(skipped)


def carry_kills(db, source: str, kills: dict[tuple[str, int, str], tuple[str, str]]) -> int:
    """Record the previous kills again for the pending mutants that are the same mutation of the same source."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    carried = 0
    for item in db.pending_work_items if kills else ():
        (spec,) = item.mutations
        try:
            mutated = mutate_code(source, get_operator(spec.operator_name)(**(spec.operator_args or {})), spec.occurrence)
        except Exception:  # noqa: BLE001  (an operator that fails here fails in exec too, which records it)
            continue
        if mutated is None:
            continue
        after = changed_lines("\n".join(difflib.unified_diff(source.splitlines(), mutated.splitlines(), lineterm="")))[1]
        diff, by = kills.get((spec.operator_name, spec.start_pos[0], after), (None, ""))
        if diff is not None:
            db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.KILLED,
                                                  output=f"killed in the previous run by {by}", diff=diff))
            carried += 1
    return carried


def run_module(name: str, path: str, tests: list[str], out: Path, survivors_only: bool = False) -> None:
    import cosmic_ray.mutating
    from cosmic_ray.commands import execute
    from cosmic_ray.config import load_config
    from cosmic_ray.work_db import WorkDB, use_db

    kills = previous_kills(out, name, path) if survivors_only else {}
    work = out / "work" / name
    prepare(work)
    precompile(work, path)
    warm_up(work, tests)
    started = time.monotonic()
    outcome, text = forked_pytest(work, pytest_args(tests), 600)
    seconds = time.monotonic() - started
    if outcome != "survived":
        tail = "\n".join(text.strip().splitlines()[-15:])
        fail(f"the unmutated tests fail in {work}; fix them first ({' '.join(tests)}):\n{tail}")
    timeout = max(20.0, 5 * seconds)
    config = work / "cosmic-ray.toml"
    command = shlex.join([sys.executable, "-m", "pytest", *pytest_args(tests)])  # what the forked run does
    config.write_text(f'[cosmic-ray]\nmodule-path = "{path}"\ntimeout = {timeout:.0f}\nexcluded-modules = []\n'
                      f'test-command = {json.dumps(command)}\n\n[cosmic-ray.distributor]\nname = "local"\n')
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    with open(work / "cosmic-ray.log", "w") as log:
        subprocess.run([*cosmic, "init", config.name, "session.sqlite"], cwd=work, stdout=log, stderr=log, check=True)
    cwd = os.getcwd()
    os.chdir(work)  # cosmic-ray's module paths are relative to the session's directory
    try:
        with use_db("session.sqlite", mode=WorkDB.Mode.open) as db:
            carried = carry_kills(db, (work / path).read_text(), kills)
            total = db.num_work_items - carried - skip_unkept(db)
            print(f"{name}: {total} mutants to test" + (f" ({carried} killed before)" if carried else "")
                  + f", baseline {seconds:.1f} s, timeout {timeout:.0f} s", flush=True)
            cosmic_ray.mutating.run_tests = runner(name, work, pytest_args(tests), total)
            execute(db, load_config(config.name))
    finally:
        os.chdir(cwd)
    dump = subprocess.run([*cosmic, "dump", "session.sqlite"], cwd=work, capture_output=True, text=True, check=True).stdout
    mutants = [mutant_from_dump(*json.loads(line)) for line in dump.splitlines() if line.strip()]
    mutants.sort(key=lambda m: (m.line, m.operator, m.after))
    record = {"path": path, "source_sha256": hashlib.sha256((ROOT / path).read_bytes()).hexdigest(),
              "mutants": [asdict(m) for m in mutants]}
    (out / "python").mkdir(parents=True, exist_ok=True)
    (out / "python" / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only this module of python.toml (repeatable)")
    parser.add_argument("--min-score", type=float, default=0.9)
    parser.add_argument("--survivors-only", action="store_true", help="test again only the previous run's survivors")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "mutation")
    args = parser.parse_args(argv)
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        fail("cosmic-ray is not installed: run `make mutate-py`")
    modules = tomllib.loads((HERE / "python.toml").read_text())["module"]
    names = [m["name"] for m in modules]
    unknown = sorted(set(args.module or []) - set(names))
    if unknown:
        fail(f"unknown module {', '.join(unknown)}; choose from {', '.join(names)}")
    try:
        equivalents = load_equivalents((HERE / "equivalent.toml").read_text())
    except ValueError as e:
        fail(f"tools/mutation/equivalent.toml: {e}")
    os.environ.update(TEST_ENV)  # before warm_up imports numpy; inherited by the forked test runs
    sys.dont_write_bytecode = True  # see precompile
    args.out = args.out.resolve()
    for m in modules:
        if not args.module or m["name"] in args.module:
            run_module(m["name"], m["path"], m["tests"], args.out, args.survivors_only)

    summaries = []
    for m in modules:
        results = args.out / "python" / f"{m['name']}.json"
        if not results.is_file():
            continue
        record = json.loads(results.read_text())
        if record["source_sha256"] != hashlib.sha256((ROOT / m["path"]).read_bytes()).hexdigest():
            print(f"warning: {m['path']} changed since its mutation run; rerun with --module {m['name']}")
        summaries.append(summarize(m["name"], m["path"], [Mutant(**x) for x in record["mutants"]], equivalents))
    (args.out / "python.json").write_text(json.dumps(report_json(summaries, args.min_score), indent=1) + "\n")
    (args.out / "python.md").write_text(report_markdown(summaries, args.min_score))
    for s in summaries:
        print(f"{s['path']}: {s['killed']}/{s['total']} killed, {s['survived']} survived, {s['equivalent']} equivalent, "
              f"score {s['score']:.1%}")
    print(f"report: {args.out / 'python.md'}")
    return 0 if all(s["score"] >= args.min_score for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
