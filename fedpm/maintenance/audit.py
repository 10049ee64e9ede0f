"""Audit a machine's local maintenance records against the hashes on chain (pure: no I/O).

Every local record is re-hashed from its content (the hash stored beside it is not trusted) and matched with
the chain's entries. Each entry comes out as one of:

- verified: the record's hash is on chain, in the same relative order as locally;
- altered: a chain entry whose local record was edited (the record's stored hash or its anchoring position
  names the entry, but its content no longer hashes to it), or whose on-chain kind/time disagree with it;
- missing locally: on chain, but no local record (deleted, or written by another organization);
- missing on chain: a local record whose hash is not on chain (never anchored, still pending);
- out of order: the hash is on chain, but local order disagrees with chain order (a reordered history),
  or the chain's own prev-hash links are broken.
"""

from __future__ import annotations

import bisect
import enum
import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from fedpm.maintenance.records import Kind, Record
from ground.errors import FedpmError

ZERO_HASH = "0x" + "00" * 32


class AuditDiscrepancy(FedpmError):
    """The local records and the chain disagree (the CLI exits 2)."""

    exit_code = 2


class Status(str, enum.Enum):
    VERIFIED = "verified"
    ALTERED = "altered"
    MISSING_LOCALLY = "missing locally"
    MISSING_ON_CHAIN = "missing on chain"
    OUT_OF_ORDER = "out of order"


@dataclass(frozen=True)
class LocalEntry:
    """One record from the local store. `record` is None when its stored content no longer parses."""

    seq: int
    record: Record | None
    stored_hash: str | None = None
    chain_index: int | None = None
    pending: bool = False

    @property
    def computed_hash(self) -> str | None:
        return self.record.hash if self.record is not None else None


@dataclass(frozen=True)
class ChainEntry:
    index: int
    record_hash: str
    prev_hash: str
    corrects: str | None
    kind: Kind
    time: int
    author: str
    author_org: str
    tx_hash: str | None = None
    block: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "record_hash": self.record_hash, "prev_hash": self.prev_hash, "corrects": self.corrects,
                "kind": self.kind.label, "time": self.time, "author": self.author, "author_org": self.author_org,
                "tx_hash": self.tx_hash, "block": self.block}


@dataclass(frozen=True)
class AuditItem:
    status: Status
    chain: ChainEntry | None
    local: LocalEntry | None
    detail: str = ""

    @property
    def record_hash(self) -> str | None:
        return self.chain.record_hash if self.chain else (self.local.computed_hash if self.local else None)

    def to_json(self) -> dict[str, Any]:
        rec = self.local.record if self.local else None
        return {"status": self.status.value, "detail": self.detail, "index": self.chain.index if self.chain else None,
                "record_hash": self.record_hash, "chain": self.chain.to_json() if self.chain else None,
                "local": None if self.local is None else {"seq": self.local.seq, "computed_hash": self.local.computed_hash,
                                                          "stored_hash": self.local.stored_hash, "pending": self.local.pending,
                                                          "record": rec.to_json() if rec else None}}


@dataclass(frozen=True)
class AuditReport:
    machine: str
    items: tuple[AuditItem, ...]

    @property
    def ok(self) -> bool:
        return all(i.status is Status.VERIFIED for i in self.items)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for i in self.items if i.status is s) for s in Status}

    def by_hash(self) -> dict[str, AuditItem]:
        return {i.chain.record_hash: i for i in self.items if i.chain}

    def to_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "ok": self.ok, "counts": self.counts(), "items": [i.to_json() for i in self.items]}


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Positions (into `values`) of one longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []  # values
    tail_pos: list[int] = []
    parent = [-1] * len(values)
    for pos, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_pos.append(pos)
        else:
            tails[k] = v
            tail_pos[k] = pos
        parent[pos] = tail_pos[k - 1] if k else -1
    keep: set[int] = set()
    pos = tail_pos[-1] if tail_pos else -1
    while pos != -1:
        keep.add(pos)
        pos = parent[pos]
    return keep


def audit_history(machine: str, local: Iterable[LocalEntry], chain: Iterable[ChainEntry]) -> AuditReport:
    """Compare local records (in local order, `seq`) with the chain's entries (in chain order)."""
    local = sorted(local, key=lambda e: e.seq)
    chain = sorted(chain, key=lambda e: e.index)
    by_hash = {c.record_hash: c for c in chain}
    by_index = {c.index: c for c in chain}
    result: dict[int, AuditItem] = {}  # chain index -> item
    unmatched_local: list[LocalEntry] = []
    matched: list[tuple[LocalEntry, ChainEntry]] = []

    for entry in local:
        c = by_hash.get(entry.computed_hash) if entry.computed_hash else None
        if c is not None and c.index not in result:
            matched.append((entry, c))
            result[c.index] = AuditItem(Status.VERIFIED, c, entry)
        else:
            unmatched_local.append(entry)

    # A local record that names a chain entry (by stored hash, else by its anchoring position) but no longer
    # hashes to it was altered after anchoring.
    still_unmatched = []
    for entry in unmatched_local:
        c = by_hash.get(entry.stored_hash or "")
        if c is None and entry.chain_index is not None:
            c = by_index.get(entry.chain_index)
        if c is not None and c.index not in result:
            why = "local record no longer parses" if entry.record is None else f"local record hashes to {entry.computed_hash}, chain has {c.record_hash}"
            result[c.index] = AuditItem(Status.ALTERED, c, entry, why)
        else:
            still_unmatched.append(entry)

    # On-chain metadata must agree with the record it commits to.
    for entry, c in matched:
        rec = entry.record
        assert rec is not None
        if rec.kind != c.kind or rec.time != c.time:
            result[c.index] = AuditItem(Status.ALTERED, c, entry, f"chain says {c.kind.label}@{c.time}, record says {rec.kind.label}@{rec.time}")

    # Local order must follow chain order: entries outside one longest increasing run were moved.
    verified = [(e, c) for e, c in matched if result[c.index].status is Status.VERIFIED]
    keep = _longest_increasing([c.index for _, c in verified])
    for pos, (entry, c) in enumerate(verified):
        if pos not in keep:
            result[c.index] = AuditItem(Status.OUT_OF_ORDER, c, entry, f"local position {entry.seq} disagrees with chain position {c.index}")

    # The chain's own links: each entry names its predecessor.
    prev = ZERO_HASH
    for expected_index, c in enumerate(chain):
        if c.index != expected_index or c.prev_hash != prev:
            result[c.index] = AuditItem(Status.OUT_OF_ORDER, c, result[c.index].local if c.index in result else None,
                                        f"chain link broken: entry {c.index} names prev {c.prev_hash}, expected {prev}")
        prev = c.record_hash

    items = [result.get(c.index) or AuditItem(Status.MISSING_LOCALLY, c, None, f"written by {c.author_org or c.author}") for c in chain]
    for entry in still_unmatched:
        items.append(AuditItem(Status.MISSING_ON_CHAIN, None, entry, "pending: run `fedpm maintenance sync`" if entry.pending else "not anchored on chain"))
    return AuditReport(machine, tuple(items))


# ---------------------------------------------------------------- output


def _short(h: str | None) -> str:
    return "-" if not h else f"{h[:10]}…{h[-4:]}"


def audit_rows(report: AuditReport) -> list[tuple[str, ...]]:
    rows = []
    for item in report.items:
        rec = item.local.record if item.local else None
        c = item.chain
        kind = (c.kind.label if c else rec.kind.label if rec else "-")
        component = rec.component if rec else "-"
        rows.append(("-" if c is None else str(c.index), item.status.value, kind, component, _short(item.record_hash),
                     _short(c.tx_hash) if c else "-", "-" if c is None or c.block is None else str(c.block), item.detail))
    return rows


def format_audit_table(report: AuditReport) -> str:
    header = ("#", "STATUS", "KIND", "COMPONENT", "RECORD HASH", "TX", "BLOCK", "DETAIL")
    rows = [header] + audit_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    verdict = "OK" if report.ok else "DISCREPANCIES"
    lines.append(f"{report.machine}: {verdict} ({counts or 'no entries'})")
    return "\n".join(line.rstrip() for line in lines)


def format_audit_json(report: AuditReport) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
