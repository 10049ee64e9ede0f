"""Device sequence numbers: the store accepts a (device, seq) once and reports every hole per device; the device's
persistent counter never reuses a seq and refuses a second publisher; the blocker groups readings per channel."""

from __future__ import annotations

import pytest
from eth_account import Account

from fedpm.sensors.anchoring import BatchSummary
from fedpm.sensors.device import Blocker, DeviceError, SeqCounter, parse_csv_row, parse_json_line
from fedpm.sensors.encoding import encode_block, parse_signed
from fedpm.sensors.signing import BlockSigner, domain
from fedpm.sensors.store import Gap, GatewayStore

M = "factory-1-m1"
DOM = domain(1, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
A, B = Account.from_key(b"\x01" * 32), Account.from_key(b"\x02" * 32)


def block(seq: int, key=A, value: float = 1.0):
    raw = encode_block(key.address, M, seq, "v", "g", [1_700_000_000_000 + seq], [value])
    return parse_signed(raw + BlockSigner.of(key, DOM).sign(raw))


def test_the_store_takes_a_device_seq_once_and_reports_every_hole_by_device(tmp_path):
    st = GatewayStore(tmp_path / "gw.sqlite", create=True)
    received = [block(s) for s in (0, 1, 3, 4)] + [block(4, value=9.0), block(8), block(0, key=B)]

    ids = st.persist_blocks(received)

    assert [i is None for i in ids] == [False, False, False, False, True, False, False]  # seq 4 twice: the second is refused
    assert st.gaps() == [Gap(M, A.address, 2, 2), Gap(M, A.address, 5, 7)]
    assert st.counts()["blocks_missing"] == 4
    assert st.reception(M)["streams"] == [{"machine": M, "device": d, "blocks_received": n, "last_seq": hi}
                                          for d, n, hi in sorted([(A.address, 5, 8), (B.address, 1, 0)])]
    assert st.reception("other-machine") == {"streams": [], "gaps": [], "blocks_missing": 0}
    assert st.has_block(A.address, 3) and not st.has_block(A.address, 2)

    inbox = st.inbox()
    assert [(r.device, r.seq) for r in inbox] == [(A.address, 0), (A.address, 1), (A.address, 3), (A.address, 4), (A.address, 8), (B.address, 0)]
    summary = BatchSummary(M, A.address, 0, 1, 2, 2, 0, 1, b"\1" * 32)
    bid = st.close_batch(summary, b"data", b"leaves", [r.id for r in inbox[:2]], [0, 1])
    assert st.watermarks() == {A.address: 1}
    assert [b.id for b in st.closed(10)] == [bid] and st.batch_of_block(M, 1).id == bid and st.batch_of_block(M, 2) is None
    from fedpm.sensors.anchoring import anchor_root
    aid = st.create_anchor(anchor_root([summary]), [bid])
    assert st.closed(10) == [] and st.unanchored() == 1 and [a.id for a in st.pending_anchors()] == [aid]
    st.mark_anchored(aid, "0xtx", 5, "0xsub")
    assert st.block_seqs(A.address, "anchored") == [0, 1] and st.block_seqs(A.address) == [0, 1, 3, 4, 8]
    assert st.unanchored() == 0 and st.anchor(aid).anchor.block_number == 5 and st.anchor_batches(aid)[0].summary == summary
    assert len(st.inbox()) == 4


def test_the_device_counter_continues_after_a_restart_refuses_a_second_publisher_and_a_corrupt_file(tmp_path):
    path = tmp_path / "sensors" / "devices" / "0xabc.seq.json"
    first = SeqCounter(path)
    assert [first.take(), first.take()] == [0, 1]
    with pytest.raises(DeviceError, match="another process"):
        SeqCounter(path)
    first.close()
    again = SeqCounter(path)  # a restarted device
    assert again.take() == 2
    again.close()
    assert [SeqCounter().take(), SeqCounter().take()] == [0, 0]  # no file: in memory, from 0
    path.write_text('{"next": -1}')
    with pytest.raises(DeviceError, match="corrupt"):
        SeqCounter(path)


def test_the_blocker_groups_readings_per_channel_and_unit():
    b = Blocker(2)
    assert b.add("a", "g", 1, 1.0) == [] and b.add("b", "g", 1, 5.0) == []
    assert b.add("a", "g", 2, 2.0) == [("a", "g", [1, 2], [1.0, 2.0])]
    assert b.add("a", "C", 3, 3.0) == []
    assert sorted(b.flush()) == [("a", "C", [3], [3.0]), ("b", "g", [1], [5.0])] and b.flush() == []
    with pytest.raises(DeviceError):
        Blocker(0)


def test_input_rows_parse_strictly():
    assert parse_csv_row(["temp", "10", "45.5", "C"]) == ("temp", 10, 45.5, "C")
    assert parse_csv_row(["temp", "10", "45"]) == ("temp", 10, 45.0, "")
    assert parse_json_line('{"channel": "t", "ts": 5, "value": 1.5, "unit": "C"}') == ("t", 5, 1.5, "C")
    for bad in (["t", "x", "1"], ["t", "1"], ["", "1", "1"], ["t", "1.5", "1"]):
        with pytest.raises(DeviceError):
            parse_csv_row(bad)
    for bad in ("not json", "[1]", '{"channel": "t", "ts": "5", "value": 1}', '{"channel": "t", "ts": 5, "value": true}', '{"ts": 5, "value": 1}'):
        with pytest.raises(DeviceError):
            parse_json_line(bad)
