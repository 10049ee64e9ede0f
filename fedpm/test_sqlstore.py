import sqlite3

import pytest

from fedpm.sqlstore import open_db, where
from ground.errors import FedpmError


def test_where_keeps_only_set_conditions_in_order():
    assert where(("a = ?", 1), ("b = ?", None), ("c >= ?", 0)) == (" WHERE a = ? AND c >= ?", [1, 0])
    assert where(("a = ?", None)) == ("", [])


def test_where_filters_real_rows():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (m TEXT, s TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [("x", "ok"), ("x", "bad"), ("y", "ok")])
    sql, args = where(("m = ?", "x"), ("s = ?", None))

    assert [r[1] for r in db.execute("SELECT * FROM t" + sql + " ORDER BY s", args)] == ["bad", "ok"]


def _open(path, create=False):
    return open_db(path, create=create, tables=frozenset({"t"}), noun="test store", error=StoreProblem, hint="fix it")


class StoreProblem(FedpmError):
    pass


def test_open_db_creates_only_when_told(tmp_path):
    with pytest.raises(StoreProblem, match="no test store at .*missing.sqlite"):
        _open(tmp_path / "sub" / "missing.sqlite")
    assert not (tmp_path / "sub").exists()

    db = _open(tmp_path / "sub" / "new.sqlite", create=True)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()

    assert _open(tmp_path / "sub" / "new.sqlite").execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_open_db_leaves_other_files_and_databases_untouched(tmp_path):
    junk, other = tmp_path / "junk", tmp_path / "other.sqlite"
    junk.write_bytes(b"no database" * 50)
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE mine (x)")
    before = other.read_bytes()

    for create in (False, True):
        with pytest.raises(StoreProblem, match="is not a test store: file is not a database"):
            _open(junk, create)
        with pytest.raises(StoreProblem, match=r"is an SQLite database but no test store \(it has no t table\) \(fix it\)"):
            _open(other, create)

    assert junk.read_bytes() == b"no database" * 50 and other.read_bytes() == before
