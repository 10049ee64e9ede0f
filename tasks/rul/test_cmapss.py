import numpy as np
import pytest

from tasks.rul import cmapss
from tasks.stats import combine_stats


def _write(path, units: dict[int, int], seed: int = 0):
    """A tiny synthetic C-MAPSS file: units {id: life}; sensor s2 drifts with age, s1 is constant."""
    rng = np.random.default_rng(seed)
    lines = []
    for unit, life in units.items():
        for cycle in range(1, life + 1):
            row = [unit, cycle, 0.001 * rng.normal(), 0.0, 100.0] + [518.67] + [642.0 + 0.01 * cycle + rng.normal(0, 0.1)] + list(rng.normal(10, 1, 19))
            lines.append("\t".join(str(v) for v in row) if unit % 2 else " ".join(str(v) for v in row) + " ")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_groups_units_and_accepts_any_whitespace(tmp_path):
    # Prepare
    path = _write(tmp_path / "train.txt", {1: 5, 2: 7, 3: 4})
    # Execute
    eng = cmapss.load_file(path)
    # Assert
    assert eng.units == (1, 2, 3)
    assert [len(s) for s in eng.series] == [5, 7, 4]
    assert eng.series[0].shape[1] == 24


def test_missing_and_malformed_files_raise_one_line_errors(tmp_path):
    # Prepare
    bad = tmp_path / "bad.txt"
    bad.write_text("1 1 0.1 0.2\n")
    # Execute / Assert
    with pytest.raises(cmapss.CmapssDataError, match="does not exist") as exc:
        cmapss.load_file(tmp_path / "nope.txt")
    assert exc.value.hint and "\n" not in str(exc.value)
    with pytest.raises(cmapss.CmapssDataError, match="26 numbers"):
        cmapss.load_file(bad)
    bad.write_text("1 1 x\n")
    with pytest.raises(cmapss.CmapssDataError, match="not a C-MAPSS table"):
        cmapss.load_file(bad)


def test_rul_labels_are_capped_piecewise_linear():
    # Execute
    labels = cmapss.rul_labels(130, rul_cap=125)
    # Assert
    assert labels[-1] == 0 and labels[-2] == 1
    assert labels[0] == 125 and labels[4] == 125 and labels[5] == 124


def test_combined_stats_equal_pooled_stats_in_any_order(tmp_path):
    # Prepare
    eng = cmapss.load_file(_write(tmp_path / "t.txt", {1: 9, 2: 6, 3: 11, 4: 3}))
    parts = [cmapss.local_stats(eng.subset(ids)) for ids in ([1, 2], [3], [4])]
    # Execute
    combined = combine_stats(parts)
    reversed_ = combine_stats(parts[::-1])
    pooled = cmapss.local_stats(eng)
    # Assert
    assert combined == reversed_
    assert combined.count == pooled.count == 29
    np.testing.assert_allclose(combined.mean(), pooled.mean(), rtol=1e-12)
    np.testing.assert_allclose(combined.std(), pooled.std(), rtol=1e-6, atol=1e-4)  # sumsq - mean^2 cancels to ~1e-5 for constant columns
    assert combined.min == pooled.min and combined.max == pooled.max


def test_feature_selection_drops_constant_columns_and_normalization_round_trips(tmp_path):
    # Prepare
    stats = cmapss.local_stats(cmapss.load_file(_write(tmp_path / "t.txt", {1: 40, 2: 50})))
    # Execute
    feats = cmapss.select_features(stats)
    norm = cmapss.normalization_from_stats(stats, feats, "minmax")
    # Assert
    assert "s1" not in feats and "setting3" not in feats and "setting2" not in feats
    assert "s2" in feats
    assert cmapss.Normalization.from_dict(norm.to_dict()) == norm


def test_malformed_normalization_in_spec_is_rejected():
    with pytest.raises(cmapss.CmapssDataError):
        cmapss.Normalization.from_dict({"features": ["s2"], "kind": "minmax", "offset": [0.0], "scale": [0.0]})


def test_windows_label_last_cycle_and_short_engines_are_padded(tmp_path):
    # Prepare
    eng = cmapss.load_file(_write(tmp_path / "t.txt", {1: 12, 2: 3}))
    feats = ("s2",)
    norm = cmapss.Normalization(feats, "minmax", (0.0,), (1.0,))
    # Execute
    x, y = cmapss.training_windows(eng, norm, window=5, rul_cap=125)
    last = cmapss.last_windows(eng, norm, window=5)
    # Assert
    assert x.shape == (8 + 1, 5, 1)  # 12-5+1 windows + one padded window for the short engine
    assert y[-1] == 0
    assert y[0] == 7 and y[7] == 0  # window ending at cycle 5 of a 12-cycle engine: RUL 7
    np.testing.assert_array_equal(last[0, :, 0], eng.series[0][-5:, 4].astype(np.float32))
    short = eng.series[1][:, 4].astype(np.float32)
    np.testing.assert_array_equal(last[1, :, 0], [short[0], short[0], short[0], short[1], short[2]])


def test_written_test_files_follow_nasa_format_and_rul_matches_truncation(tmp_path):
    # Prepare
    eng = cmapss.load_file(_write(tmp_path / "t.txt", {4: 30, 7: 25, 9: 40}))
    # Execute
    mapping = cmapss.write_test_files(eng, tmp_path / "test.txt", tmp_path / "rul.txt", seed=1, min_cycles=5)
    test = cmapss.load_file(tmp_path / "test.txt")
    rul = cmapss.load_rul_file(tmp_path / "rul.txt")
    again = cmapss.write_test_files(eng, tmp_path / "t2.txt", tmp_path / "r2.txt", seed=1, min_cycles=5)
    # Assert
    assert mapping == again == {1: 4, 2: 7, 3: 9}
    assert test.units == (1, 2, 3)
    for i, orig in enumerate(eng.series):
        kept = len(test.series[i])
        assert 5 <= kept < len(orig)
        assert rul[i] == len(orig) - kept
        np.testing.assert_array_equal(test.series[i], orig[:kept])  # values round-trip exactly
    assert (tmp_path / "rul.txt").read_bytes() == (tmp_path / "r2.txt").read_bytes()
