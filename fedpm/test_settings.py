"""The app's settings compose the wings' sections: open_store picks the backend they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedpm.settings import Settings, load_settings
from fl_node.settings import StorageSettings
from fl_node.storage import open_store
from fl_node.storage.kubo import KuboStore
from fl_node.storage.local import LocalStore
from ground.errors import ConfigError


def test_open_store_picks_the_configured_backend(tmp_path: Path) -> None:
    # Prepare
    local = Settings(home=tmp_path)
    kubo = Settings(home=tmp_path, storage=StorageSettings(backend="kubo", ipfs_api="http://10.0.0.7:5001"))
    # Execute
    a, b = open_store(local), open_store(kubo)
    # Assert
    assert isinstance(a, LocalStore) and a.root == tmp_path / "store"
    assert isinstance(b, KuboStore) and b.api == "http://10.0.0.7:5001"


def test_open_store_rejects_an_unknown_backend_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={"FEDPM_STORAGE_BACKEND": "s3"})
    with pytest.raises(ConfigError) as err:
        open_store(settings)
    assert "'s3'" in err.value.message and "local, kubo" in err.value.hint


def test_the_data_file_defaults_beside_the_project_and_follows_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = load_settings(env={}).fl.data_file
    chosen = load_settings(env={"FEDPM_FL_DATA": str(tmp_path / "mine.txt"), "FEDPM_STORAGE_RETRIES": "7"})

    assert default == Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmapss" / "train_FD001.txt"
    assert chosen.fl.data_file == tmp_path / "mine.txt" and chosen.storage.retries == 7
