"""Timelines and labels from journal rows, audits and verified cycles (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from fedpm.maintenance.audit import ChainEntry, LocalEntry, audit_history
from fedpm.maintenance.records import Kind, Record
from fedpm.prognostics.alerts import Alert
from fedpm.prognostics.journal import PredictionRow
from fedpm.prognostics.labels import LabelError, closing_events, labeled_history
from fedpm.prognostics.timeline import machine_timeline, with_actual
from fedpm.sensors.encoding import Reading
from fedpm.sensors.feed import MachineData, Problem
from tasks.rul.cmapss import FEATURE_COLUMNS

M = "m-1"
ALERT = Alert(M, "turbofan", "stop", "stop it", 6.0, 10.0, 0, 2, "0x" + "11" * 32, 1_000, 9_000, ("0xd:1:0xr",), 1_000)


def audit(*records: Record, anchored: int | None = None):
    local = [LocalEntry(i, r, r.hash, i) for i, r in enumerate(records)]
    n = len(records) if anchored is None else anchored
    chain, prev = [], "0x" + "00" * 32
    for i, r in enumerate(records[:n]):
        chain.append(ChainEntry(i, r.hash, prev, None, r.kind, r.time, "0xa", "factory-1", f"0xtx{i}", 10 + i))
        prev = r.hash
    return audit_history(M, local, chain)


def record(kind: Kind, time: int, answers: str | None = None) -> Record:
    return Record(machine=M, time=time, kind=kind, component="hpc", description="d", technician_org="factory-1", technician="t", answers=answers)


def test_an_alert_is_answered_only_by_a_record_verified_on_chain():
    fix = record(Kind.PART_REPLACEMENT, 1_300, answers=ALERT.id)
    preds = [PredictionRow(M, 900.0, 8.0, None, None, 0, 2, "0x11", 1_000, 9_000, [])]

    pending = machine_timeline(M, preds, [ALERT], audit(fix, anchored=0))
    done = machine_timeline(M, preds, [ALERT], audit(fix))

    assert pending["alerts"][0]["answered"] is False and pending["open_alerts"] == [ALERT.id]
    assert done["alerts"][0]["answered"] is True and done["alerts"][0]["response_s"] == 300 and done["open_alerts"] == []
    assert [e["what"] for e in done["events"]] == ["prediction", "alert", "maintenance"]


def test_actual_rul_counts_the_verified_cycles_to_the_failure():
    preds = [{"to_ms": 3_000, "rul": 9.0}, {"to_ms": 5_000, "rul": 6.0}, {"to_ms": None, "rul": None}]

    before = with_actual(preds, [1_000 * i for i in range(1, 9)], [])
    after = with_actual(preds, [1_000 * i for i in range(1, 9)], [8_000])

    assert [p["actual"] for p in before] == [None, None, None]
    assert [p["actual"] for p in after] == [5, 3, None]


def cycles(n: int, gap: set[int] = frozenset()) -> MachineData:
    readings = [Reading(M, ch, (i + 1) * 1000, float(i)) for i in range(n) if i not in gap for ch in FEATURE_COLUMNS]
    return MachineData(M, readings, [], [])


def test_a_verified_failure_closes_a_history_into_labeled_cycles():
    early, failure = record(Kind.FAULT, 4), record(Kind.PART_REPLACEMENT, 9)
    assert [r.time for r in closing_events(audit(record(Kind.MAINTENANCE, 2), early, failure))] == [4, 9]

    h = labeled_history(cycles(12), failure, after=early)

    assert list(h.ts) == [5000, 6000, 7000, 8000, 9000] and list(h.rul) == [4, 3, 2, 1, 0]
    np.testing.assert_array_equal(h.rows[:, 0], [4, 5, 6, 7, 8])
    gappy = cycles(12)
    gappy.problems.append(Problem("unverified", 6_500, 7_500, "batch 3 tampered"))
    with pytest.raises(LabelError, match="batch 3 tampered"):
        labeled_history(gappy, failure, after=early)
    with pytest.raises(LabelError, match="1 verified cycle"):
        labeled_history(cycles(12), record(Kind.FAULT, 1))
