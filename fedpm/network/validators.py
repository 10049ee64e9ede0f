"""The chain's validator set follows consortium governance.

Policy: the validators are the nodes (enode URLs) that active GOVERNOR organizations declare in the registry; an
enode names its validator address (keccak of its node id), so admitting a governor that declared its node, or
removing one, is what changes the set. The registry decides; each validator's operator mirrors the decision to
its own node, whose engine then votes in its blocks: QBFT (`qbft_proposeValidatorVote`, Besu) or Clique
(`clique_propose`, geth). A change takes effect once more than half of the current validators vote for it.
`plan_votes` is pure; `sync_validators` reads one node and casts that node's votes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from eth_utils import to_checksum_address

from chain.connect import rpc_call
from fedpm.consortium.client import OrgView, Role
from fedpm.network.identity import IdentityError, enode_address
from ground.errors import FedpmError


API_HINT = "enable the consensus API on the node: Besu --rpc-http-api=...,QBFT or geth --http.api ...,clique"


@dataclass(frozen=True)
class Engine:
    name: str
    get_validators: str  # method, called with ["latest"]
    pending: str  # the node's own pending votes: {address: add?}
    propose: str  # (address, add: bool)
    discard: str  # (address)


ENGINES = {
    "qbft": Engine("qbft", "qbft_getValidatorsByBlockNumber", "qbft_getPendingVotes", "qbft_proposeValidatorVote", "qbft_discardValidatorVote"),
    "clique": Engine("clique", "clique_getSigners", "clique_proposals", "clique_propose", "clique_discard"),
}


@dataclass(frozen=True)
class VotePlan:
    propose: tuple[tuple[str, bool], ...]  # (address, add) votes this node must cast
    discard: tuple[str, ...]  # pending votes that are no longer wanted (already applied, or reversed by governance)


def governed_validators(members: Iterable[OrgView]) -> list[str]:
    """Validator addresses named by the enodes of active governor organizations, sorted."""
    found = set()
    for m in members:
        if m.active and Role.GOVERNOR in m.roles:
            for enode in m.enodes:
                try:
                    found.add(enode_address(enode))
                except IdentityError as exc:
                    raise FedpmError(f"organization {m.org_id} declares {enode!r}, which is not an enode URL", hint=exc.hint) from None
    return sorted(found, key=str.lower)


def plan_votes(current: Iterable[str], desired: Iterable[str], pending: dict[str, bool]) -> VotePlan:
    have = {to_checksum_address(a) for a in current}
    want = {to_checksum_address(a) for a in desired}
    if not want:
        raise FedpmError("governance names no validator (no active governor declares a node)", hint="a chain without validators stops: declare nodes first")
    pending = {to_checksum_address(a): bool(v) for a, v in pending.items()}
    changes = [(a, True) for a in sorted(want - have)] + [(a, False) for a in sorted(have - want)]
    propose = tuple((a, add) for a, add in changes if pending.get(a) is not add)
    needed = {a for a, _ in changes}
    discard = tuple(sorted(a for a in pending if a not in needed))
    return VotePlan(propose, discard)


def sync_validators(url: str, engine_name: str, members: Iterable[OrgView]) -> VotePlan:
    """Cast (and withdraw) this node's votes so its engine moves the validator set towards the registry's."""
    engine = ENGINES[engine_name]
    current = rpc_call(url, engine.get_validators, ["latest"], hint=API_HINT)
    pending = rpc_call(url, engine.pending, [], hint=API_HINT) or {}
    plan = plan_votes(current, governed_validators(members), pending)
    for address in plan.discard:
        rpc_call(url, engine.discard, [address], hint=API_HINT)
    for address, add in plan.propose:
        rpc_call(url, engine.propose, [address, add], hint=API_HINT)
    return plan
