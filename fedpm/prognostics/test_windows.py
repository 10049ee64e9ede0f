"""Model inputs from verified readings, and every reason there is none (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from fedpm.prognostics.windows import build_window
from fedpm.sensors.encoding import Reading
from fedpm.sensors.feed import BatchRef, MachineData, Problem
from tasks.rul.cmapss import Normalization

NORM = Normalization(("s2", "s3"), "minmax", (0.0, 100.0), (2.0, 10.0))
M = "m-1"


def data(cycles: int, *, step: int = 1000, drop: dict[int, str] | None = None, skip: set[int] = frozenset()) -> MachineData:
    """`cycles` cycles at t = (i + 1) * step; `drop` removes one channel of a cycle, `skip` whole cycles."""
    readings = []
    for i in range(cycles):
        if i in skip:
            continue
        ts = (i + 1) * step
        for ch, v in (("s2", i / 10), ("s3", 105.0), ("s4", 7.0)):
            if (drop or {}).get(i) != ch:
                readings.append(Reading(M, ch, ts, v))
    refs = [BatchRef(M, "0xdev", k, k, k * 10 * step + step, (k + 1) * 10 * step, 30, "0xr" + str(k), "0xa" + str(k), "0xtx", k) for k in range(cycles // 10 + 1)]
    return MachineData(M, readings, refs, [])


def test_a_window_is_the_newest_cycles_normalized_with_its_batches():
    w = build_window(data(25), NORM, 10)

    assert w.x.shape == (10, 2) and w.x.dtype == np.float32
    np.testing.assert_allclose(w.x[:, 0], [i / 10 / 2.0 for i in range(15, 25)], rtol=1e-6)
    np.testing.assert_allclose(w.x[:, 1], 0.5)
    assert (w.from_ms, w.to_ms, w.cycles) == (16_000, 25_000, 25)
    assert [b.first_seq for b in w.batches] == [1, 2]


@pytest.mark.parametrize("make,reason,words", [
    (lambda: MachineData(M), "no-data", "no verified reading"),
    (lambda: data(9), "too-few", "9 verified cycle(s), the model needs 10"),
    (lambda: data(25, drop={20: "s3"}), "gap", "lack a feature"),
    (lambda: data(25, skip={20}), "gap", "cycles missing"),
])
def test_no_prediction_names_its_reason(make, reason, words):
    w = build_window(make(), NORM, 10)

    assert w.reason == reason and words in w.detail


def test_problems_from_the_window_start_on_block_it_and_older_ones_do_not():
    d = data(40)
    d.problems.append(Problem("unverified", 2_000, 3_000, "batch 0 tampered"))
    assert build_window(d, NORM, 10).x.shape == (10, 2)  # long before the window: harmless

    d.problems.append(Problem("gap", 39_000, None, "block 7 never reached the gateway"))
    late = build_window(d, NORM, 10)
    assert late.reason == "gap" and "block 7" in late.detail

    d.problems.append(Problem("unverified", 35_000, 36_000, "batch 3 tampered"))
    assert build_window(d, NORM, 10).reason == "unverified"  # unverified data is named first
