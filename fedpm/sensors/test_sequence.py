"""Sequenced blocks: parsing src/seq, the store's duplicate drop and gap report, the publisher's persistent counter."""

from __future__ import annotations

import json

import pytest

from fedpm.sensors.ingest import MalformedPayload, parse_payload
from fedpm.sensors.signing import BatchHeader
from fedpm.sensors.simulate import SeqCounter
from fedpm.sensors.store import Gap, GatewayStore
from ground.errors import FedpmError

M = "factory-1-m1"


def block(seq: int | None, src: str = "sim-a", t0: int = 1_700_000_000_000) -> bytes:
    body = {"ts": [t0 + seq * 10 if seq is not None else t0, t0 + 1 + (seq or 0) * 10], "values": [1.0, 2.0], "unit": "g"}
    return json.dumps(body if seq is None else {**body, "src": src, "seq": seq}).encode()


def test_a_block_carries_its_src_and_seq_and_bad_ones_are_malformed():
    p = parse_payload(M, "vibration", block(7))
    assert (p.src, p.seq, p.n) == ("sim-a", 7, 2)
    single = parse_payload(M, "t", json.dumps({"ts": 5, "value": 1.5, "src": "x", "seq": 0}).encode())
    assert (single.src, single.seq) == ("x", 0)
    assert parse_payload(M, "vibration", block(None)).seq is None
    for bad in ({"seq": 1}, {"src": "a"}, {"src": "a", "seq": -1}, {"src": "a", "seq": "1"}, {"src": "", "seq": 1}, {"src": "a", "seq": True}):
        with pytest.raises(MalformedPayload):
            parse_payload(M, "v", json.dumps({"ts": [1], "values": [1.0], **bad}).encode())


def test_the_store_drops_a_repeated_seq_and_reports_every_hole_by_stream(tmp_path):
    st = GatewayStore(tmp_path / "gw.sqlite", create=True)
    received = [0, 1, 3, 4, 4, 8]  # 2 and 5..7 never arrive; 4 arrives twice with different bytes (other digest)
    rows = [(bytes([i]) * 16, parse_payload(M, "v", block(s))) for i, s in enumerate(received)]
    rows.append((b"o" * 16, parse_payload(M, "v", block(0, src="sim-b"))))
    rows.append((b"u" * 16, parse_payload(M, "v", block(None))))  # unsequenced: stored, not tracked
    ids = st.persist_messages(rows)

    assert [i is None for i in ids] == [False, False, False, False, True, False, False, False]
    assert st.gaps() == [Gap(M, "sim-a", 2, 2), Gap(M, "sim-a", 5, 7)]
    assert st.counts()["blocks_missing"] == 4
    rec = st.reception(M)
    assert rec["streams"] == [{"machine": M, "src": "sim-a", "blocks_received": 5, "last_seq": 8}, {"machine": M, "src": "sim-b", "blocks_received": 1, "last_seq": 0}]
    assert st.reception("other-machine") == {"streams": [], "gaps": [], "blocks_missing": 0}

    inbox = st.inbox()
    assert [(r.src, r.seq) for r in inbox] == [("sim-a", 0), ("sim-a", 1), ("sim-a", 3), ("sim-a", 4), ("sim-a", 8), ("sim-b", 0), (None, None)]
    header = BatchHeader(M, 0, 0, 1, 4, b"\0" * 32)
    bid = st.close_batch(header, "0xdev", b"sig", b"data", b"leaves", [r.id for r in inbox[:2]], [("sim-a", 0), ("sim-a", 1)])
    st.mark_anchored([(bid, "0xtx", 1, "0xsub")])
    assert st.block_seqs(M, "sim-a", "anchored") == [0, 1]
    assert st.block_seqs(M, "sim-a") == [0, 1, 3, 4, 8]
    assert len(st.inbox()) == 5


def test_the_publisher_counter_continues_after_a_restart_and_refuses_a_corrupt_file(tmp_path):
    path = tmp_path / "sensors" / "publisher-x.seq.json"
    first = SeqCounter(path)
    assert [first.take(M), first.take(M), first.take("m2")] == [0, 1, 0]
    again = SeqCounter(path)  # a restarted publisher
    assert [again.take(M), again.take("m2")] == [2, 1]
    assert [SeqCounter().take(M), SeqCounter().take(M)] == [0, 0]  # no file: every run starts at 0
    path.write_text('{"m": -1}')
    with pytest.raises(FedpmError, match="corrupt"):
        SeqCounter(path)
