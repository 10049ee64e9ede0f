"""Pure core of the Python mutation report: turn cosmic-ray's session dump into mutants, match them against the
committed equivalent mutants, score each module and render out/mutation/python.json and python.md.

Score = killed / (total - equivalent), where total counts the mutants whose tests ran (killed or survived) and
an equivalent mutant is a survivor matched by an entry of equivalent.toml.

cosmic-ray replaces a binary or comparison operator by every other one (12 and 9 mutants per site, most of them
dead to any test at all and costly on 2 shared cores). Of those, only mutmut's replacements count here: the
slips a programmer makes (+ -, * /, < <=, == !=, ...); every other operator of cosmic-ray is kept whole.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

KEPT_REPLACEMENTS = {
    "ReplaceBinaryOperator": {"Add": "Sub", "Sub": "Add", "Mul": "Div", "Div": "Mul", "FloorDiv": "Div", "Mod": "Div", "Pow": "Mul",
                              "LShift": "RShift", "RShift": "LShift", "BitOr": "BitAnd", "BitAnd": "BitOr", "BitXor": "BitAnd"},
    "ReplaceComparisonOperator": {"Lt": "LtE", "LtE": "Lt", "Gt": "GtE", "GtE": "Gt", "Eq": "NotEq", "NotEq": "Eq",
                                  "Is": "IsNot", "IsNot": "Is", "In": "NotIn", "NotIn": "In"},
}
_EQUIVALENT_KEYS = ("module", "function", "operator", "before", "after", "reason")  # `after` may be left out


@dataclass(frozen=True)
class Mutant:
    module: str  # path of the mutated module, relative to the repository root
    function: str  # cosmic-ray's definition name: the enclosing function or class
    operator: str  # e.g. core/ReplaceBinaryOperator_Add_Sub
    line: int
    column: int
    before: str  # the changed source line(s), stripped
    after: str  # the same line(s) in the mutant, stripped
    outcome: str  # killed | survived | not-run
    diff: str
    killed_by: str = ""  # the first failing test (pytest node id), "timeout", or "" when not killed


@dataclass(frozen=True)
class Equivalent:
    module: str
    function: str
    operator: str
    before: str
    after: str
    reason: str

    def matches(self, m: Mutant) -> bool:
        """`operator` may be a glob (core/ReplaceBinaryOperator_BitOr_*) when every replacement is equivalent;
        `after` is then compared only if the entry gives one."""
        return ((self.module, self.function, self.before) == (m.module, m.function, m.before)
                and fnmatch.fnmatchcase(m.operator, self.operator) and self.after in ("", m.after))


def kept(operator: str) -> bool:
    """Whether a cosmic-ray operator name (core/ReplaceBinaryOperator_Add_Sub) is one of the mutants that count."""
    kind, _, pair = operator.split("/", 1)[-1].partition("_")
    if kind not in KEPT_REPLACEMENTS:
        return True
    source, _, target = pair.partition("_")
    return KEPT_REPLACEMENTS[kind].get(source) == target


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and the added lines of a unified diff, each stripped and joined with newlines."""
    removed, added = [], []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(line[1:].strip())
        elif line.startswith("+"):
            added.append(line[1:].strip())
    return "\n".join(removed), "\n".join(added)


def first_failure(output: str) -> str:
    """The node id of the first failed or erroring test in pytest's short summary (-ra), else the first line."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0].strip()
    return output.strip().split("\n", 1)[0][:200]


def mutant_from_dump(item: dict[str, Any], result: dict[str, Any] | None) -> Mutant:
    """One line of `cosmic-ray dump` ([work item, result]) as a Mutant; a timeout counts as killed."""
    (spec,) = item["mutations"]
    result = result or {}
    diff = result.get("diff") or ""
    before, after = changed_lines(diff)
    outcome = result.get("test_outcome")
    if result.get("worker_outcome") != "normal" or outcome not in ("killed", "survived"):
        outcome = "not-run"
    killed_by = first_failure(result.get("output") or "") if outcome == "killed" else ""
    return Mutant(module=spec["module_path"], function=spec["definition_name"] or "", operator=spec["operator_name"],
                  line=spec["start_pos"][0], column=spec["start_pos"][1], before=before, after=after, outcome=outcome, diff=diff,
                  killed_by=killed_by)


def load_equivalents(text: str) -> list[Equivalent]:
    """Parse equivalent.toml ([[equivalent]] tables with module, function, operator, before, [after,] reason)."""
    entries = tomllib.loads(text).get("equivalent", [])
    out = []
    for i, entry in enumerate(entries, 1):
        entry = {"after": ""} | entry
        missing = [k for k in _EQUIVALENT_KEYS if not isinstance(entry.get(k), str)]
        extra = sorted(set(entry) - set(_EQUIVALENT_KEYS))
        if missing or extra or not entry["reason"].strip():
            raise ValueError(f"equivalent entry {i} needs exactly the string keys {', '.join(_EQUIVALENT_KEYS)} "
                             f"and a non-empty reason (missing {missing or 'none'}, unknown {extra or 'none'})")
        out.append(Equivalent(**{k: entry[k] for k in _EQUIVALENT_KEYS}))
    return out


def summarize(name: str, path: str, mutants: Sequence[Mutant], equivalents: Iterable[Equivalent]) -> dict[str, Any]:
    """Counts and lists for one module. Equivalent entries of this module that match no survivor are reported as
    stale (the code moved on: fix or delete the entry); a killed mutant matching an entry is reported too, since
    its reason must be wrong."""
    mutants = [m for m in mutants if kept(m.operator)]
    mine = [e for e in equivalents if e.module == path]
    survivors, equivalent, wrongly_equivalent = [], [], []
    used: set[int] = set()
    for m in mutants:
        hit = next((i for i, e in enumerate(mine) if e.matches(m)), None)
        if hit is not None:
            used.add(hit)
        if m.outcome == "survived" and hit is not None:
            equivalent.append((m, mine[hit].reason))
        elif m.outcome == "survived":
            survivors.append(m)
        elif m.outcome == "killed" and hit is not None:
            wrongly_equivalent.append(m)
    killed = sum(m.outcome == "killed" for m in mutants)
    total = killed + sum(m.outcome == "survived" for m in mutants)
    scored = total - len(equivalent)
    return {
        "module": name, "path": path, "total": total, "killed": killed, "survived": len(survivors),
        "equivalent": len(equivalent), "not_run": sum(m.outcome == "not-run" for m in mutants),
        "score": round(killed / scored, 4) if scored else 1.0,
        "survivors": survivors, "equivalents": equivalent, "killed_but_marked_equivalent": wrongly_equivalent,
        "stale_equivalents": [e for i, e in enumerate(mine) if i not in used],
    }


def report_json(summaries: Sequence[dict[str, Any]], min_score: float) -> dict[str, Any]:
    counts = ("path", "total", "killed", "survived", "equivalent", "not_run", "score")
    return {"tool": "cosmic-ray", "min_score": min_score,
            "modules": {s["module"]: {k: s[k] for k in counts} | {"passed": s["score"] >= min_score} for s in summaries}}


def _where(m: Mutant) -> str:
    return f"`{m.module}:{m.line}` in `{m.function or '(module level)'}`, `{m.operator}`"


def report_markdown(summaries: Sequence[dict[str, Any]], min_score: float) -> str:
    lines = ["# Python mutation report (cosmic-ray)", "",
             f"Score = killed / (total - equivalent); target {min_score:.0%} per module. Binary and comparison operators: "
             "mutmut's replacements only (tools/mutation/report.py).", "",
             "| module | total | killed | survived | equivalent | not run | score | |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for s in summaries:
        ok = "ok" if s["score"] >= min_score else "BELOW TARGET"
        lines.append(f"| {s['path']} | {s['total']} | {s['killed']} | {s['survived']} | {s['equivalent']} | "
                     f"{s['not_run']} | {s['score']:.1%} | {ok} |")
    for s in summaries:
        lines += ["", f"## {s['path']}", ""]
        if s["survivors"]:
            lines += [f"### Surviving mutants ({len(s['survivors'])}): add a test, or an entry in "
                      "tools/mutation/equivalent.toml saying why it is equivalent", ""]
            for m in s["survivors"]:
                lines += [f"- {_where(m)}", "", "```diff", m.diff.rstrip("\n"), "```", ""]
        if s["equivalents"]:
            lines += [f"### Equivalent mutants ({len(s['equivalents'])})", ""]
            for m, reason in s["equivalents"]:
                lines += [f"- {_where(m)}: `{m.before}` -> `{m.after}`", f"  - why equivalent: {reason}"]
            lines.append("")
        for m in s["killed_but_marked_equivalent"]:
            lines.append(f"- WARNING: marked equivalent but killed, fix its entry: {_where(m)}: `{m.before}` -> `{m.after}`")
        for e in s["stale_equivalents"]:
            lines.append(f"- WARNING: stale equivalent entry (matches no mutant): `{e.function}` `{e.operator}` `{e.before}`")
        if not (s["survivors"] or s["equivalents"] or s["killed_but_marked_equivalent"] or s["stale_equivalents"]):
            lines.append("Every mutant killed.")
    return "\n".join(lines).rstrip("\n") + "\n"
