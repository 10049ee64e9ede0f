import sqlite3

from fedpm.sqlfilter import where


def test_where_keeps_only_set_conditions_in_order():
    assert where(("a = ?", 1), ("b = ?", None), ("c >= ?", 0)) == (" WHERE a = ? AND c >= ?", [1, 0])
    assert where(("a = ?", None)) == ("", [])


def test_where_filters_real_rows():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (m TEXT, s TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [("x", "ok"), ("x", "bad"), ("y", "ok")])
    sql, args = where(("m = ?", "x"), ("s = ?", None))

    assert [r[1] for r in db.execute("SELECT * FROM t" + sql + " ORDER BY s", args)] == ["bad", "ok"]
