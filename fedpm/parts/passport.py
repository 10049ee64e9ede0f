"""A part's passport and its verification against the chain (pure: the chain comes in through `ChainViews`).

A passport is what the customer of a part receives: the part record, and for each referenced batch its proof in its
anchored root of roots, the anchor, and (by default) the batch's signed blocks. Anyone can check it against the
chain, element by element, in this order; the first failing element is named:

- record: the record hashes to what the machine's operator anchored in PartRegistry for this part id and machine;
- batch i: the batch is a leaf of an anchored root, its device is bound to the machine (not revoked before the
  anchor), and every block in it is signed by that device and together they make the batch's Merkle root;
- coverage: nothing is missing: each device's block sequence runs without holes over the referenced batches, and
  they span the part's production time;
- maintenance: the maintenance entry the record names is the machine's latest on chain at the part's start (an
  intact hash chain); none is named only if the machine had none;
- model (if the record names one): the round finalized with that model hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from chain.eip712 import Domain
from fedpm.maintenance.audit import ZERO_HASH, ChainEntry
from fedpm.parts.records import PartRecord, PartRecordError, coverage_gaps
from fedpm.sensors.anchoring import Anchor, batch_in_anchor
from fedpm.sensors.client import Binding
from fedpm.sensors.encoding import EncodingError, parse_signed
from fedpm.sensors.merkle import Proof, block_leaf, keccak256, root_of_leaves
from fedpm.sensors.signing import recover_signer
from ground.errors import FedpmError

KIND = "fedpm-part-passport"
VERIFIED, FAILED, UNCHECKED = "verified", "failed", "unchecked"


class PassportFailed(FedpmError):
    """A passport does not verify (the CLI exits 2)."""

    exit_code = 2


@dataclass(frozen=True)
class PartView:
    """What PartRegistry holds for a part id."""

    part: str
    machine: str
    record_hash: str
    recorder: str
    time: int


class ChainViews(Protocol):
    """The chain reads a passport check needs (`fedpm.parts.client.PassportChain` is the real one)."""

    domain: Domain

    def part(self, part: str) -> PartView | None: ...

    def is_anchored(self, anchor: Anchor) -> bool: ...

    def binding(self, device: str) -> Binding: ...

    def revoked_before(self, device: str, block: int) -> bool: ...

    def maintenance_entries(self, machine: str) -> list[ChainEntry]: ...

    def model_hash(self, task: int, round_number: int) -> str | None: ...


@dataclass(frozen=True)
class Element:
    name: str
    status: str  # verified | failed | unchecked
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"element": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class PassportCheck:
    part: str
    elements: tuple[Element, ...]

    @property
    def ok(self) -> bool:
        return bool(self.elements) and all(e.status == VERIFIED for e in self.elements)

    @property
    def first_failure(self) -> Element | None:
        return next((e for e in self.elements if e.status != VERIFIED), None)

    def to_json(self) -> dict[str, Any]:
        return {"part": self.part, "ok": self.ok, "elements": [e.to_json() for e in self.elements]}


def batch_name(i: int, ref: Any) -> str:
    s = ref.summary
    return f"batch {i} (device {s.device[:10]}…, seq {s.first_seq}..{s.last_seq})"


def _check_blocks(ref: Any, blocks: list[str], dom: Domain) -> str | None:
    """Why the batch's signed blocks are not what its summary says its device signed, or None."""
    s = ref.summary
    leaves, seqs, readings = [], [], 0
    for k, text in enumerate(blocks):
        try:
            b = parse_signed(bytes.fromhex(text[2:]))
        except (EncodingError, ValueError, TypeError):
            return f"block {k} is not a signed block"
        h = keccak256(b.block)
        if b.device != s.device or b.machine != s.machine or recover_signer(h, b.signature, dom) != s.device:
            return f"block {k} (seq {b.seq}) is not signed by device {s.device}"
        leaves.append(block_leaf(h, b.signature))
        seqs.append(b.seq)
        readings += b.n
    if not seqs or seqs != sorted(set(seqs)) or (seqs[0], seqs[-1], len(seqs), readings) != (s.first_seq, s.last_seq, s.blocks, s.readings):
        return f"the blocks do not run seq {s.first_seq}..{s.last_seq} ({s.blocks} blocks, {s.readings} readings)"
    if root_of_leaves(leaves) != s.root:
        return "the blocks do not make the batch's Merkle root"
    return None


def _batch(i: int, ref: Any, item: Any, record: PartRecord, chain: ChainViews) -> Element:
    name = batch_name(i, ref)
    if not isinstance(item, dict) or item.get("proof") is None or item.get("anchor") is None:
        return Element(name, FAILED, "not anchored: the passport has no anchor for it")
    try:
        proof, anchor = Proof.from_json(item["proof"]), Anchor.from_json(item["anchor"])
        blocks = item.get("blocks")
    except (KeyError, TypeError, ValueError, AttributeError):
        return Element(name, FAILED, "its proof or anchor is malformed in the passport")
    if anchor.root != ref.anchor_root or not batch_in_anchor(ref.summary, proof, anchor) or not chain.is_anchored(anchor):
        return Element(name, FAILED, "not anchored: no root of roots on chain holds this batch")
    binding = chain.binding(ref.summary.device)
    if why := binding.spoils(record.machine, ref.summary.from_time, ref.summary.to_time, lambda: chain.revoked_before(ref.summary.device, anchor.block_number)):
        return Element(name, FAILED, why)
    if blocks is None:
        return Element(name, UNCHECKED, f"anchored in block {anchor.block_number}; its signed blocks are not in this passport")
    why = _check_blocks(ref, blocks, chain.domain) if isinstance(blocks, list) else "its blocks are malformed"
    if why:
        return Element(name, FAILED, why)
    return Element(name, VERIFIED, f"{ref.summary.blocks} signed blocks, {ref.summary.readings} readings, anchored in block {anchor.block_number}")


def _maintenance(record: PartRecord, chain: ChainViews) -> Element:
    entries = sorted(chain.maintenance_entries(record.machine), key=lambda e: e.index)
    prev = ZERO_HASH
    for k, e in enumerate(entries):
        if e.index != k or e.prev_hash != prev:
            return Element("maintenance", FAILED, f"the machine's history on chain is broken at entry {e.index}")
        prev = e.record_hash
    before = [e for e in entries if e.time * 1000 <= record.start_ms]
    latest = before[-1] if before else None
    ref = record.maintenance
    if ref is None:
        return (Element("maintenance", VERIFIED, "no maintenance entry before the part") if latest is None
                else Element("maintenance", FAILED, f"the record names none, but entry {latest.index} ({latest.record_hash[:12]}…) precedes the part"))
    if latest is None or (latest.record_hash, latest.index) != (ref.record_hash, ref.index):
        found = "no entry" if latest is None else f"entry {latest.index} ({latest.record_hash[:12]}…)"
        return Element("maintenance", FAILED, f"the record names entry {ref.index} ({ref.record_hash[:12]}…), the chain's latest before the part is {found}")
    return Element("maintenance", VERIFIED, f"entry {latest.index}: {latest.kind.label} by {latest.author_org or latest.author}")


def verify_passport(passport: Any, chain: ChainViews) -> PassportCheck:
    """Every element of the passport checked against the chain, in the module docstring's order."""
    part = passport.get("record", {}).get("part", "?") if isinstance(passport, dict) and isinstance(passport.get("record"), dict) else "?"
    try:
        if not isinstance(passport, dict) or passport.get("kind") != KIND:
            raise PartRecordError("not a fedpm part passport", hint="pass the JSON `fedpm part passport` wrote")
        record = PartRecord.from_json(passport.get("record"))
    except PartRecordError as exc:
        return PassportCheck(str(part), (Element("record", FAILED, exc.message),))
    on_chain = chain.part(record.part)
    if on_chain is None:
        first = Element("record", FAILED, f"no part {record.part} is recorded on chain")
    elif on_chain.machine != record.machine or on_chain.record_hash != record.hash:
        first = Element("record", FAILED, f"altered: the record hashes to {record.hash[:14]}…, the chain holds {on_chain.record_hash[:14]}… for part {record.part}"
                        if on_chain.record_hash != record.hash else f"the chain records part {record.part} on {on_chain.machine}, not {record.machine}")
    else:
        at = datetime.fromtimestamp(on_chain.time, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        first = Element("record", VERIFIED, f"anchored by {on_chain.recorder} on {at}")
    items = passport.get("batches")
    if not isinstance(items, list) or len(items) != len(record.batches):
        batches = [Element("batches", FAILED, f"the passport carries {len(items) if isinstance(items, list) else 0} batch proofs for {len(record.batches)} referenced batches")]
    else:
        batches = [_batch(i, ref, item, record, chain) for i, (ref, item) in enumerate(zip(record.batches, items))]
    gaps = coverage_gaps(record)
    coverage = Element("coverage", FAILED, gaps[0]) if gaps else Element("coverage", VERIFIED, f"{len(record.batches)} batch(es), no block missing")
    elements = [first, *batches, coverage, _maintenance(record, chain)]
    if record.model is not None:
        got = chain.model_hash(record.model.task, record.model.round)
        elements.append(Element("model", VERIFIED, f"task {record.model.task} round {record.model.round}") if got == record.model.model_hash
                        else Element("model", FAILED, f"task {record.model.task} round {record.model.round} finalized {got or 'nothing'}, not {record.model.model_hash[:14]}…"))
    return PassportCheck(record.part, tuple(elements))


def format_check(check: PassportCheck) -> str:
    lines = [f"{e.status.upper():<10} {e.name}: {e.detail}" for e in check.elements]
    first = check.first_failure
    lines.append(f"part {check.part}: " + ("passport verified" if check.ok else f"passport FAILS at {first.name}" if first else "passport FAILS"))
    return "\n".join(lines)
