"""LocalStore, MemoryStore and fetch_verified (open_store with the app's settings: fedpm/test_settings.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from eth_utils import keccak

from fl_node.errors import IntegrityError, ObjectNotFound, StorageError
from fl_node.storage.base import ContentStore, InvalidCid, fetch_verified
from fl_node.storage.cid import CHUNK_SIZE, cid_of
from fl_node.storage.local import LocalStore
from fl_node.storage.memory import MemoryStore

MISSING = cid_of(b"never added")
DATA = bytes(range(256)) * 1100  # two chunks: exercises the multi-block CID path


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ContentStore:
    return MemoryStore() if request.param == "memory" else LocalStore(tmp_path / "store")


def test_add_returns_kubo_cid_and_cat_returns_the_bytes(store: ContentStore) -> None:
    # Execute
    cid = store.add(DATA)
    # Assert
    assert isinstance(store, ContentStore)
    assert cid == cid_of(DATA)
    assert store.cat(cid) == DATA
    assert store.has(cid) and not store.has(MISSING)


def test_missing_object_raises_object_not_found(store: ContentStore) -> None:
    with pytest.raises(ObjectNotFound) as err:
        store.cat(MISSING)
    assert err.value.cid == MISSING
    with pytest.raises(ObjectNotFound):
        store.pin(MISSING)


def test_malformed_cid_is_rejected_before_touching_storage(store: ContentStore) -> None:
    for bad in ("../../etc/passwd", "", "Qm" + "0" * 44):
        with pytest.raises(InvalidCid):
            store.cat(bad)
        with pytest.raises(InvalidCid):
            store.has(bad)


def test_local_store_pins_on_add_and_on_pin(tmp_path: Path) -> None:
    # Prepare: an object written by another "node" directly into the shared directory, not yet pinned here
    store = LocalStore(tmp_path)
    other = LocalStore(tmp_path)
    cid = other.add(b"update")
    (tmp_path / "pins" / cid).unlink()
    # Execute
    store.pin(cid)
    # Assert
    assert store.pinned(cid)
    assert store.pinned(store.add(b"x"))


def test_local_store_detects_a_tampered_file(tmp_path: Path) -> None:
    # Prepare
    store = LocalStore(tmp_path)
    cid = store.add(DATA)
    path = next((tmp_path / "objects").rglob(cid))
    path.write_bytes(DATA[:-1] + b"\x00")
    # Execute / Assert
    with pytest.raises(IntegrityError) as err:
        store.cat(cid)
    assert str(path) in err.value.hint
    store.add(DATA)  # adding again heals the copy
    assert store.cat(cid) == DATA


def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.add(DATA)
    store.add(DATA)
    assert [p.name for p in (tmp_path / "objects").rglob(".tmp-*")] == []


def test_unusable_store_directory_raises_storage_error_with_hint(tmp_path: Path) -> None:
    # Prepare: the store root is a regular file (chmod would not stop root, which runs CI here)
    root = tmp_path / "not-a-dir"
    root.write_bytes(b"")
    # Execute / Assert
    with pytest.raises(StorageError) as err:
        LocalStore(root).add(b"x")
    assert not isinstance(err.value, ObjectNotFound)
    assert "writable" in err.value.hint


def test_local_store_is_safe_for_concurrent_processes(tmp_path: Path) -> None:
    # Prepare: 3 processes rewrite the same multi-chunk objects while reading all of them back
    worker = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from fl_node.storage.local import LocalStore
        store = LocalStore(Path(sys.argv[1]))
        objects = [bytes([k]) * (%d + 1000 * k) for k in range(4)]
        cids = [store.add(o) for o in objects]
        for _ in range(15):
            for o in objects:
                store.add(o)
            for c, o in zip(cids, objects):
                assert store.cat(c) == o  # a torn or partial file would fail here or in cat's CID check
        print("ok")
        """
        % (CHUNK_SIZE + 1)
    )
    cwd = Path(__file__).resolve().parents[2]
    # Execute
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(tmp_path)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    # Assert
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and out.strip() == b"ok", err.decode()[-2000:]
    assert len(list((tmp_path / "objects").rglob("Qm*"))) == 4


class _Flaky:
    """A store whose object appears only after `misses` failed reads, like an upload still propagating."""

    def __init__(self, inner: MemoryStore, misses: int) -> None:
        self.inner, self.misses, self.calls = inner, misses, 0

    def cat(self, cid: str) -> bytes:
        self.calls += 1
        if self.calls <= self.misses:
            raise ObjectNotFound(cid)
        return self.inner.cat(cid)


def test_fetch_verified_returns_bytes_matching_the_committed_keccak() -> None:
    store = MemoryStore()
    cid = store.add(DATA)
    assert fetch_verified(store, cid, keccak(DATA), retries=0, backoff=0) == DATA


def test_fetch_verified_retries_a_missing_object_with_backoff() -> None:
    # Prepare
    inner = MemoryStore()
    cid = inner.add(DATA)
    flaky, sleeps = _Flaky(inner, misses=2), []
    # Execute
    data = fetch_verified(flaky, cid, keccak(DATA), retries=3, backoff=0.5, sleep=sleeps.append)
    # Assert
    assert data == DATA
    assert sleeps == [0.5, 1.0]


def test_fetch_verified_gives_up_after_retries() -> None:
    flaky, sleeps = _Flaky(MemoryStore(), misses=99), []
    with pytest.raises(ObjectNotFound):
        fetch_verified(flaky, MISSING, keccak(b""), retries=2, backoff=0.1, sleep=sleeps.append)
    assert flaky.calls == 3 and sleeps == [0.1, 0.2]


def test_fetch_verified_rejects_bytes_that_differ_from_the_commitment() -> None:
    # Prepare: the uploader committed the keccak of other bytes than it published
    store = MemoryStore()
    cid = store.add(DATA)
    sleeps: list[float] = []
    # Execute / Assert: integrity failures are final, never retried
    with pytest.raises(IntegrityError) as err:
        fetch_verified(store, cid, keccak(DATA + b"!"), retries=3, backoff=1, sleep=sleeps.append)
    assert keccak(DATA).hex() in err.value.message
    assert sleeps == []


def test_fetch_verified_does_not_retry_a_malformed_cid() -> None:
    sleeps: list[float] = []
    with pytest.raises(InvalidCid):
        fetch_verified(MemoryStore(), "nope", keccak(b""), retries=3, backoff=1, sleep=sleeps.append)
    assert sleeps == []

