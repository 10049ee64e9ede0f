"""The local version choice: newest by default, a pin until returned to latest; the log is append-only (pure + a file)."""

from __future__ import annotations

import pytest

from fedpm.models.choice import Choice, ChoiceLog, ChoiceLogError, resolve
from fedpm.models.registry import ModelRegistryError, ModelVersion, RoundNotFinalized


def version(r: int, h: str | None = None) -> ModelVersion:
    return ModelVersion(0, r, h or "0x" + f"{r:02x}" * 32, "Qm", "0xspec", 10 * r, "0xtx", 1000 * r, ("0xa",))


def test_resolve_follows_the_newest_or_the_pin():
    versions = [version(1), version(2), version(4)]

    assert resolve(versions, Choice(0)).round == 4
    assert resolve(versions, Choice(0, pin=2, model_hash=versions[1].model_hash)).round == 2
    with pytest.raises(RoundNotFinalized, match="pinned round 3"):
        resolve(versions, Choice(0, pin=3))
    with pytest.raises(ModelRegistryError, match="now names"):
        resolve(versions, Choice(0, pin=2, model_hash="0x" + "ee" * 32))
    with pytest.raises(RoundNotFinalized, match="no finalized round"):
        resolve([], Choice(0))


def test_the_log_appends_and_reads_back_per_task(tmp_path):
    log = ChoiceLog(tmp_path / "models" / "choices.jsonl")
    log.pin(version(2), reason="rollback")
    log.record(Choice(1, pin=5, model_hash="0x" + "05" * 32))
    log.follow_latest(0)

    assert [c.pin for c in log.history(0)] == [2, None] and log.current(0).follows_latest and log.current(1).pin == 5
    assert log.current(7) == Choice(7)
    (tmp_path / "models" / "choices.jsonl").write_text("{broken\n")
    with pytest.raises(ChoiceLogError, match="line 1"):
        log.history()
