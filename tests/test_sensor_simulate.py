"""Simulator streams: vibration windows per state, C-MAPSS replay one engine per machine (tiny fixture file)."""

from __future__ import annotations

import numpy as np

from fedpm.sensors.simulate import cmapss_readings, window_messages


def test_vibration_windows_are_blocks_per_channel_and_failure_vibrates_more():
    rng = np.random.default_rng(1)
    healthy = dict(window_messages("m1", "healthy", rng, 1_000, 4096.0, 1024))
    failure = dict(window_messages("m1", "failure", rng, 1_000, 4096.0, 1024))

    assert set(healthy) == {"vibration", "temperature", "current"}
    vib = healthy["vibration"]
    assert len(vib["ts"]) == len(vib["values"]) == 1024 and vib["unit"] == "g" and min(vib["ts"]) == 1_000 and max(vib["ts"]) < 1_000 + 250
    assert np.std(failure["vibration"]["values"]) > 2 * np.std(healthy["vibration"]["values"])
    assert np.mean(failure["temperature"]["values"]) > np.mean(healthy["temperature"]["values"])


def test_cmapss_replay_maps_engines_to_machines(tmp_path):
    rows = ["1 1 -0.0007 -0.0004 100 " + " ".join(str(518.67 + i) for i in range(21)), "1 2 0.0019 -0.0003 100 " + " ".join(str(600 + i) for i in range(21)),
            "2 1 0.0 0.0 100 " + " ".join(str(700 + i) for i in range(21))]
    path = tmp_path / "train_tiny.txt"
    path.write_text("\n".join(rows) + "\n")

    msgs = list(cmapss_readings(path, {1: "factory-1-m1", 2: "factory-2-m1"}, t0_ms=0, cycle_ms=1000))

    assert len(msgs) == 3 * 24
    by_machine = {}
    for machine, channel, payload in msgs:
        by_machine.setdefault(machine, []).append((channel, payload["ts"], payload["value"]))
    assert ("s1", 1000, 518.67) in by_machine["factory-1-m1"] and ("s21", 2000, 620.0) in by_machine["factory-1-m1"]
    assert ("setting3", 1000, 100.0) in by_machine["factory-2-m1"] and len(by_machine["factory-2-m1"]) == 24
