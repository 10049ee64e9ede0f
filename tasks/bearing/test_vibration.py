import numpy as np
import pytest

from tasks.bearing import classifier as sc
from tasks.bearing import vibration as vib


def test_bearing_frequencies_match_the_cwru_6205_reference():
    # Reference values for SKF 6205 at 1797 rpm: BPFO 107.4 Hz, BPFI 162.2 Hz
    b = vib.Bearing()
    assert b.bpfo == pytest.approx(107.36, abs=0.1)
    assert b.bpfi == pytest.approx(162.19, abs=0.1)


def test_simulation_is_seeded_and_shaped():
    a = vib.simulate_window("critical", np.random.default_rng(3), fs=8000, n=2048)
    b = vib.simulate_window("critical", np.random.default_rng(3), fs=8000, n=2048)
    assert set(a) == {"vibration", "temperature", "current"}
    assert a["vibration"].shape == (2048,) and a["vibration"].dtype == np.float32
    assert all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="unknown state"):
        vib.simulate_window("broken", np.random.default_rng(0))


def test_envelope_spectrum_shows_bpfo_only_when_faulty():
    # Prepare
    rng = np.random.default_rng(0)
    names = list(sc.FEATURES)
    # Execute
    healthy = sc.features(vib.simulate_window("healthy", rng))
    degraded = sc.features(vib.simulate_window("degraded", rng))
    # Assert
    i = names.index("env_bpfo")
    assert degraded[i] > 5 * healthy[i]
    assert degraded[names.index("kurtosis")] > healthy[names.index("kurtosis")]


def test_severity_raises_rms_and_temperature():
    rng = np.random.default_rng(1)
    f = [sc.features(vib.simulate_window(s, rng)) for s in vib.STATES]
    rms = [x[sc.FEATURES.index("log_rms")] for x in f]
    temp = [x[sc.FEATURES.index("temperature")] for x in f]
    assert rms == sorted(rms) and temp == sorted(temp)


def test_report_counts_false_alarms_on_healthy_windows():
    out = sc.report(np.array([0, 1, 1, 2, 3, 3]), np.array([0, 0, 1, 2, 3, 2]))
    assert out["false_alarm_rate"] == 0.5
    assert out["recall"] == {"healthy": 0.5, "degraded": 1.0, "critical": 0.5, "failure": 1.0}


def test_the_reference_condition_reproduces_the_reference_signals():
    a = vib.simulate_window("critical", np.random.default_rng(4))
    b = vib.simulate_window("critical", np.random.default_rng(4), condition=vib.Condition())
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_operating_conditions_move_the_defect_frequency_temperature_and_current():
    # Prepare
    slow, heavy = vib.Condition(rpm=1200), vib.Condition(load=1.3, ambient_c=5.0)
    names = list(sc.feature_names(operating=True))
    # Execute
    ref = sc.features(vib.simulate_window("degraded", np.random.default_rng(2)), operating=True)
    at_slow = sc.features(vib.simulate_window("degraded", np.random.default_rng(2), condition=slow), condition=slow, operating=True)
    misread = sc.features(vib.simulate_window("degraded", np.random.default_rng(2), condition=slow), operating=True)  # read at the reference speed
    at_heavy = sc.features(vib.simulate_window("degraded", np.random.default_rng(2), condition=heavy), condition=heavy, operating=True)
    # Assert: the envelope peak follows the speed's BPFO (and is lost when read at the wrong speed); speed and load are inputs
    i = names.index("env_bpfo")
    assert at_slow[i] > 2 * misread[i]
    assert at_slow[names.index("speed_hz")] == np.float32(20.0) and ref[names.index("speed_hz")] == np.float32(1797 / 60)
    assert at_heavy[names.index("temperature")] > ref[names.index("temperature")] + 5
    assert at_heavy[names.index("current_rms")] > ref[names.index("current_rms")] and at_heavy[names.index("load")] == np.float32(1.3)
    # without the operating inputs the vector is the single-site one (the default spec's features), the same values
    plain = sc.features(vib.simulate_window("degraded", np.random.default_rng(2), condition=slow), condition=slow)
    assert len(plain) == len(sc.FEATURES) and np.array_equal(plain, at_slow[: len(sc.FEATURES)])


def test_simulate_dataset_takes_one_count_per_state():
    _, y = vib.simulate_dataset([2, 1, 0, 3], np.random.default_rng(0), n=512)
    assert y.tolist() == [0, 0, 1, 3, 3, 3]
    with pytest.raises(ValueError, match="one window count per state"):
        vib.simulate_dataset([1, 2], np.random.default_rng(0), n=512)
