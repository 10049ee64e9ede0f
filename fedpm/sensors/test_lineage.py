"""Lineage documents: what an update was trained on, with no reading in it; checked batch by batch (pure: a fake chain)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fedpm.sensors.anchoring import Anchor, BatchSummary, anchor_root, batch_proofs
from fedpm.sensors.api import UsedBatch
from fedpm.sensors.client import Binding
from fedpm.sensors.lineage import KIND, check_lineage, lineage_document
from fedpm.sensors.merkle import keccak256, root_of_leaves

D1, D2 = "0x" + "11" * 20, "0x" + "22" * 20


def used() -> list[UsedBatch]:
    summaries = [BatchSummary(m, d, 10 * k, 10 * k + 9, 10, 240, 1000 * k, 1000 * k + 999, keccak256(bytes([k]))) for k, (m, d) in
                 enumerate([("m2", D2), ("m1", D1), ("m1", D1)])]
    root = anchor_root(summaries)
    anchor = Anchor.of(root, "0xgw", 7, "0xtx")
    return [UsedBatch(s, p, anchor) for s, p in zip(summaries, batch_proofs(summaries))]


@dataclass
class FakeRegistry:
    anchors: set = field(default_factory=set)

    def is_anchored(self, anchor):
        return anchor in self.anchors


@dataclass
class FakeBindings:
    bound: dict = field(default_factory=lambda: {D1: Binding(D1, "m1", True), D2: Binding(D2, "m2", True)})

    def binding(self, device):
        return self.bound.get(device, Binding(device, None, False))

    def revoked_before(self, device, block):
        return False


@dataclass
class FakeChecker:
    registry: FakeRegistry
    bindings: FakeBindings


def test_the_document_orders_batches_and_roots_them_without_readings():
    doc = lineage_document(used())

    assert doc["kind"] == KIND and [(b["batch"]["machine"], b["batch"]["first_seq"]) for b in doc["batches"]] == [("m1", 10), ("m1", 20), ("m2", 0)]
    assert doc["root"] == "0x" + root_of_leaves([BatchSummary.from_json(b["batch"]).leaf() for b in doc["batches"]]).hex()
    assert lineage_document(list(reversed(used()))) == doc  # the order used does not matter
    assert set(json.dumps(doc)) and "values" not in json.dumps(doc)


def test_a_lineage_checks_against_the_chain_and_names_the_machines():
    batches = used()
    checker = FakeChecker(FakeRegistry({batches[0].anchor}), FakeBindings())
    doc = lineage_document(batches)

    ok = check_lineage("t", doc, checker)

    assert ok.ok and ok.machines == {"m1": {"batches": 2, "readings": 480}, "m2": {"batches": 1, "readings": 240}}
    checker.bindings.bound[D2] = Binding(D2, "m9", True)
    assert "bound to m9" in check_lineage("t", doc, checker).detail
    checker.bindings.bound[D2] = Binding(D2, "m2", True)
    checker.registry.anchors.clear()
    assert "not in an anchored root" in check_lineage("t", doc, checker).detail
    assert "malformed" in check_lineage("t", {"kind": KIND, "batches": []}, checker).detail
    assert "malformed" in check_lineage("t", {**doc, "batches": [{"batch": {}}]}, checker).detail
