"""Training-data lineage: which anchored, device-signed batches an update was trained on, and the audit of a model.

A trainer on gateway data (`cmapss_source.GatewayData`) writes a lineage document: every batch it used, as its
summary (machine, device, block sequence range, readings, time span, Merkle root), its proof in its anchor and the
anchor, and `root`, the Merkle root over those batch leaves. The readings stay with the trainer. The trainer node
pins the document and puts its CID and keccak256 in the update's metadata (`fl_node.modelfile`), so the update hash
it commits on chain covers it.

`audit_model` walks a model version back: the global model of round R is built from the updates included in rounds
1..R; each included update's bytes are fetched by CID and checked against its on-chain hash, its lineage reference
is read, the document fetched and checked against the reference's hash, and every batch in it checked against the
chain (batch in an anchored root, device bound to the machine). An update without a lineage was trained on data
that is not device-signed and anchored (a plain file): the audit says so. What a lineage cannot show is that the
trainer really trained on exactly those readings; it shows which anchored data it claims, in a way it cannot later
deny.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from fedpm.sensors.anchoring import Anchor, BatchSummary, batch_in_anchor
from fedpm.sensors.api import UsedBatch
from fedpm.sensors.merkle import Proof, root_of_leaves
from fedpm.sensors.verify import Checker
from fl_node.coordinator import round_report
from fl_node.errors import IntegrityError, StorageError
from fl_node.modelfile import ModelFileError, decode_lineage
from fl_node.rounds import FederatedLearning
from fl_node.storage import ContentStore, fetch_verified
from ground.errors import FedpmError
from ground.ids import hex0x

KIND = "fedpm-lineage"


def lineage_document(used: Sequence[UsedBatch]) -> dict[str, Any]:
    """The lineage of a data set built from `used` batches (ordered by machine, device, seq): no readings."""
    ordered = sorted(used, key=lambda u: (u.summary.machine, u.summary.device, u.summary.first_seq))
    if not ordered:
        raise FedpmError("no anchored batch to build a lineage from", hint="stream the machines' data through the gateway first")
    return {"kind": KIND, "v": 1, "root": hex0x(root_of_leaves([u.summary.leaf() for u in ordered])),
            "batches": [{"batch": u.summary.to_json(), "proof": u.proof.to_json(), "anchor": u.anchor.to_json()} for u in ordered]}


@dataclass(frozen=True)
class LineageCheck:
    """One update's lineage: ok, and per machine the batches and readings that went in (or why it fails)."""

    trainer: str
    ok: bool
    machines: dict[str, dict[str, int]] = field(default_factory=dict)  # machine -> {"batches", "readings"}
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"trainer": self.trainer, "ok": self.ok, "machines": self.machines, "detail": self.detail}


def check_lineage(trainer: str, doc: Any, checker: Checker) -> LineageCheck:
    """Check a lineage document against the chain; the first bad element fails it."""
    try:
        if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("batches"), list) or not doc["batches"]:
            raise ValueError("not a lineage document")
        items = [(BatchSummary.from_json(b["batch"]), Proof.from_json(b["proof"]), Anchor.from_json(b["anchor"])) for b in doc["batches"]]
        root = bytes.fromhex(doc["root"][2:])
    except (KeyError, TypeError, ValueError) as exc:
        return LineageCheck(trainer, False, detail=f"malformed lineage document: {exc}")
    if root_of_leaves([s.leaf() for s, _, _ in items]) != root:
        return LineageCheck(trainer, False, detail="the lineage root is not the root over its batches")
    machines: dict[str, dict[str, int]] = {}
    for i, (summary, proof, anchor) in enumerate(items):
        where = f"batch {i} ({summary.machine}, device {summary.device} seq {summary.first_seq}..{summary.last_seq})"
        if not batch_in_anchor(summary, proof, anchor) or not checker.registry.is_anchored(anchor):
            return LineageCheck(trainer, False, detail=f"{where} is not in an anchored root")
        binding = checker.bindings.binding(summary.device)
        if why := binding.spoils(summary.machine, summary.from_time, summary.to_time, lambda: checker.bindings.revoked_before(summary.device, anchor.block_number)):
            return LineageCheck(trainer, False, detail=f"{where}: {why}")
        m = machines.setdefault(summary.machine, {"batches": 0, "readings": 0})
        m["batches"] += 1
        m["readings"] += summary.readings
    return LineageCheck(trainer, True, machines)


@dataclass(frozen=True)
class ModelLineage:
    task: int
    round: int
    model_hash: str
    updates: dict[int, list[LineageCheck]]  # round -> one check per included update

    @property
    def ok(self) -> bool:
        return bool(self.updates) and all(c.ok for checks in self.updates.values() for c in checks)

    @property
    def machines(self) -> list[str]:
        return sorted({m for checks in self.updates.values() for c in checks for m in c.machines})

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "round": self.round, "model_hash": self.model_hash, "ok": self.ok, "machines": self.machines,
                "rounds": {str(r): [c.to_json() for c in checks] for r, checks in self.updates.items()}}


def update_lineage(store: ContentStore, trainer: str, update_hash: str, cid: str, checker: Checker, retries: int = 3) -> LineageCheck:
    """Fetch one committed update, read its lineage reference, fetch and check the document."""
    try:
        blob = fetch_verified(store, cid, bytes.fromhex(update_hash[2:]), retries=retries)
        ref = decode_lineage(blob)
    except (StorageError, IntegrityError, ModelFileError) as exc:
        return LineageCheck(trainer, False, detail=f"update {update_hash[:12]}…: {exc.message}")
    if ref is None:
        return LineageCheck(trainer, False, detail="no lineage: trained on data that is not device-signed and anchored (a plain file)")
    try:
        raw = fetch_verified(store, str(ref["cid"]), bytes.fromhex(str(ref["hash"])[2:]), retries=retries)
        doc = json.loads(raw)
    except (KeyError, ValueError, StorageError, IntegrityError) as exc:
        return LineageCheck(trainer, False, detail=f"lineage document unavailable or altered: {exc}")
    return check_lineage(trainer, doc, checker)


def audit_model(fl: FederatedLearning, task_id: int, round_number: int, store: ContentStore, checker: Checker) -> ModelLineage:
    """The lineage of the global model of round `round_number` (its own and every earlier round's included updates)."""
    task = fl.task(task_id)
    if not 1 <= round_number <= task.rounds_started:
        raise FedpmError(f"task {task_id} has no round {round_number} (rounds started: {task.rounds_started})", hint="pick a finalized round (fedpm round status)")
    updates: dict[int, list[LineageCheck]] = {}
    model_hash = ""
    for r in range(1, round_number + 1):
        rep = round_report(fl, task_id, r)
        if rep.state != "finalized":
            if r == round_number:
                raise FedpmError(f"round {r} of task {task_id} is {rep.state}, not finalized", hint="audit a finalized round")
            continue  # a failed round changed nothing: the next one starts from the last finalized model
        updates[r] = [update_lineage(store, t, rep.updates[t], rep.update_cids[t], checker) for t in rep.participants if t not in rep.excluded]
        model_hash = rep.model_hash
    return ModelLineage(task_id, round_number, model_hash, updates)


def format_model_lineage(m: ModelLineage) -> str:
    lines = [f"task {m.task} round {m.round} model {m.model_hash[:14]}…: " + ("trained only on device-signed, anchored data" if m.ok else "NOT only device-signed, anchored data")]
    for r, checks in m.updates.items():
        for c in checks:
            what = ", ".join(f"{k} ({v['batches']} batches, {v['readings']} readings)" for k, v in sorted(c.machines.items()))
            lines.append(f"  round {r} {c.trainer}: {'ok' if c.ok else 'FAIL'} {what or c.detail}")
    lines.append(f"machines: {', '.join(m.machines) or '-'}")
    return "\n".join(lines)
