"""The mutation report's pure core: diff snippets, equivalent-mutant matching, scores and the rendered report."""

from __future__ import annotations

import pytest

from tools.mutation.report import changed_lines, first_failure, kept, load_equivalents, mutant_from_dump, report_json, report_markdown, summarize

DIFF = """--- mutation diff ---
--- afedpm/lease/tariff.py
+++ bfedpm/lease/tariff.py
@@ -78,3 +78,3 @@
     def price_of(self, usage: int) -> int:
-        return usage * self.unit_price // UNIT_SCALE
+        return usage * self.unit_price / UNIT_SCALE
"""


def _dump(outcome="survived", worker="normal", diff=DIFF, operator="core/ReplaceBinaryOperator_FloorDiv_Div"):
    item = {"job_id": "x", "mutations": [{"module_path": "fedpm/lease/tariff.py", "operator_name": operator, "occurrence": 3,
                                          "start_pos": [79, 40], "end_pos": [79, 42], "operator_args": {}, "definition_name": "price_of"}]}
    return item, {"worker_outcome": worker, "output": "", "test_outcome": outcome, "diff": diff}


def _mutant(outcome="survived", **kw):
    return mutant_from_dump(*_dump(outcome, **kw))


def _toml(operator="core/ReplaceBinaryOperator_FloorDiv_Div", after='after = "return usage * self.unit_price / UNIT_SCALE"\n'):
    return ('[[equivalent]]\nmodule = "fedpm/lease/tariff.py"\nfunction = "price_of"\n'
            f'operator = "{operator}"\nbefore = "return usage * self.unit_price // UNIT_SCALE"\n{after}reason = "because"\n')


def test_only_mutmuts_operator_replacements_count():
    assert kept("core/ReplaceBinaryOperator_Add_Sub") and kept("core/ReplaceComparisonOperator_Lt_LtE") and kept("core/NumberReplacer")
    assert not kept("core/ReplaceBinaryOperator_Add_BitXor") and not kept("core/ReplaceComparisonOperator_Lt_Gt")
    assert kept("core/ReplaceComparisonOperator_IsNot_Is") and not kept("core/ReplaceComparisonOperator_IsNot_Eq")
    s = summarize("tariff", "fedpm/lease/tariff.py", [_mutant(operator="core/ReplaceBinaryOperator_FloorDiv_Mod")], [])
    assert (s["total"], s["survived"]) == (0, 0)


def test_changed_lines_skip_the_file_headers():
    assert changed_lines(DIFF) == ("return usage * self.unit_price // UNIT_SCALE", "return usage * self.unit_price / UNIT_SCALE")


def test_mutant_from_dump_keeps_position_and_outcome():
    m = _mutant()
    assert (m.module, m.function, m.line, m.outcome) == ("fedpm/lease/tariff.py", "price_of", 79, "survived")
    assert _mutant("killed").outcome == "killed"
    assert _mutant("incompetent", worker="exception").outcome == "not-run"
    assert mutant_from_dump(_dump()[0], None).outcome == "not-run"


def test_the_killing_test_is_the_first_failure_of_the_summary():
    output = ("..F\n=== short test summary info ===\nFAILED fedpm/lease/test_lease_pure.py::test_fmt_amount[0-kwargs2-0] - AssertionError: x\n"
              "!!! stopping after 1 failures !!!\n")
    assert first_failure(output) == "fedpm/lease/test_lease_pure.py::test_fmt_amount[0-kwargs2-0]"
    assert first_failure("ERROR fl_node/test_aggregate.py - SyntaxError\n") == "fl_node/test_aggregate.py"
    assert first_failure("timeout") == "timeout"
    item, result = _dump("killed")
    assert mutant_from_dump(item, result | {"output": output}).killed_by.endswith("::test_fmt_amount[0-kwargs2-0]")
    assert mutant_from_dump(item, result | {"output": output, "test_outcome": "survived"}).killed_by == ""


def test_equivalent_entries_match_by_snippet_and_operator_glob():
    (exact,) = load_equivalents(_toml())
    assert exact.matches(_mutant())
    assert not exact.matches(_mutant(operator="core/ReplaceBinaryOperator_FloorDiv_Mul"))
    (glob,) = load_equivalents(_toml(operator="core/ReplaceBinaryOperator_FloorDiv_*", after=""))
    assert glob.matches(_mutant()) and glob.matches(_mutant(operator="core/ReplaceBinaryOperator_FloorDiv_Mul"))
    assert not glob.matches(_mutant(operator="core/NumberReplacer"))


@pytest.mark.parametrize("text", ['[[equivalent]]\nmodule = "m"\n', _toml().replace('reason = "because"', 'reason = " "'),
                                  _toml() + 'line = 3\n'])
def test_incomplete_equivalent_entries_are_refused(text):
    with pytest.raises(ValueError, match="equivalent entry 1 needs"):
        load_equivalents(text)


def test_score_excludes_equivalent_mutants_and_flags_wrong_or_stale_entries():
    killed = _mutant("killed", operator="core/NumberReplacer")
    survivor = _mutant(operator="core/AddNot")
    equivalent = _mutant()
    not_run = _mutant("incompetent", worker="exception", operator="core/ReplaceUnaryOperator_USub_UAdd")
    s = summarize("tariff", "fedpm/lease/tariff.py", [killed, survivor, equivalent, not_run], load_equivalents(_toml()))
    assert (s["total"], s["killed"], s["survived"], s["equivalent"], s["not_run"], s["score"]) == (3, 1, 1, 1, 1, 0.5)
    assert s["survivors"] == [survivor] and s["equivalents"] == [(equivalent, "because")] and not s["stale_equivalents"]

    flagged = summarize("tariff", "fedpm/lease/tariff.py", [killed], load_equivalents(_toml(operator="core/*", after="")))
    assert flagged["killed_but_marked_equivalent"] == [killed] and flagged["score"] == 1.0
    stale = summarize("tariff", "fedpm/lease/tariff.py", [killed], load_equivalents(_toml()))
    assert len(stale["stale_equivalents"]) == 1


def test_reports_list_survivors_as_diffs_and_equivalents_with_reasons():
    s = summarize("tariff", "fedpm/lease/tariff.py", [_mutant("killed", operator="core/X"), _mutant(operator="core/Y"), _mutant()],
                  load_equivalents(_toml()))
    data = report_json([s], 0.9)
    assert data["modules"]["tariff"] == {"path": "fedpm/lease/tariff.py", "total": 3, "killed": 1, "survived": 1, "equivalent": 1,
                                         "not_run": 0, "score": 0.5, "passed": False}
    md = report_markdown([s], 0.9)
    assert "| fedpm/lease/tariff.py | 3 | 1 | 1 | 1 | 0 | 50.0% | BELOW TARGET |" in md
    assert "```diff\n" + DIFF.rstrip("\n") + "\n```" in md and "why equivalent: because" in md
