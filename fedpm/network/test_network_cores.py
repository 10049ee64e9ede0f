"""Pure cores of fedpm.network: identities, genesis builders, the validator vote plan."""

from __future__ import annotations

import base64

import base58
import pytest
from eth_account import Account

from fedpm.consortium.client import OrgView, Role
from fedpm.network.genesis import clique_genesis, genesis_validators, qbft_genesis
from fedpm.network.identity import ChainNode, IdentityError, KuboIdentity, derive_key, enode_address, parse_seed, swarm_key
from fedpm.network.validators import governed_validators, plan_votes
from ground.errors import FedpmError

SEED = bytes(range(32))
KEYS = [derive_key(SEED, f"member-{i}/chain") for i in range(1, 6)]
NODES = [ChainNode(k) for k in KEYS]


def test_a_chain_node_key_names_its_enode_and_validator_address() -> None:
    node = NODES[0]
    enode = node.enode("besu-member-1", 30303)
    assert enode.startswith("enode://") and len(enode.split("@")[0]) == len("enode://") + 128
    assert enode_address(enode) == node.address == Account.from_key(KEYS[0]).address  # node key address = signer address
    assert enode_address(enode + "?discport=0") == node.address
    for bad in ("enode://abc@host:1", "http://host:8545", node.enode("h", 1).replace("enode", "enr")):
        with pytest.raises(IdentityError):
            enode_address(bad)


def test_keys_are_deterministic_per_seed_and_label() -> None:
    assert derive_key(SEED, "a") == derive_key(SEED, "a") != derive_key(SEED, "b") != derive_key(bytes(32), "b")
    assert parse_seed("0x" + SEED.hex()) == parse_seed(SEED.hex().upper()) == SEED
    for bad in ("", "00" * 31, "zz" * 32, "00" * 33):
        with pytest.raises(IdentityError, match="32 bytes of hex"):
            parse_seed(bad)


def test_kubo_identity_is_a_libp2p_secp256k1_key_and_an_identity_multihash_peer_id() -> None:
    ident = KuboIdentity(KEYS[1])
    raw = base64.b64decode(ident.config_private_key)
    assert raw[:4] == bytes([0x08, 0x02, 0x12, 32]) and raw[4:] == KEYS[1]
    multihash = base58.b58decode(ident.peer_id)
    assert multihash[:2] == bytes([0x00, 37]) and multihash[2:6] == bytes([0x08, 0x02, 0x12, 33])  # identity hash of the public key
    assert ident.peer_id.startswith("16Uiu2")  # how every secp256k1 peer id reads
    assert swarm_key(bytes(32)).splitlines() == ["/key/swarm/psk/1.0.0/", "/base16/", "00" * 32]


def test_genesis_files_round_trip_their_validators() -> None:
    validators = [n.address for n in NODES[:4]]
    qbft = qbft_genesis(2018, validators, {validators[0]: 5})
    assert genesis_validators(qbft) == validators and qbft["config"]["qbft"]["blockperiodseconds"] == 2
    assert qbft["alloc"] == {validators[0][2:].lower(): {"balance": "0x5"}}
    clique = clique_genesis(4243, validators, {})
    assert genesis_validators(clique) == sorted(validators, key=lambda a: bytes.fromhex(a[2:]))  # geth wants them sorted
    with pytest.raises(FedpmError, match="request timeout"):
        qbft_genesis(2018, validators, {}, block_period_s=4, request_timeout_s=4)
    with pytest.raises(FedpmError):
        genesis_validators({"config": {"ethash": {}}, "extraData": "0x"})


def _member(org: str, roles: Role, *nodes: ChainNode, active: bool = True) -> OrgView:
    return OrgView(org, org, roles, active, (), tuple(n.enode("127.0.0.1", 30303 + i) for i, n in enumerate(nodes)))


def test_the_validators_are_the_nodes_of_active_governor_organizations() -> None:
    members = [_member("m1", Role.GOVERNOR, NODES[0]), _member("m2", Role.GOVERNOR | Role.TRAINER, NODES[1]),
               _member("factory", Role.OPERATOR, NODES[2]), _member("gone", Role.GOVERNOR, NODES[3], active=False)]
    assert governed_validators(members) == sorted([NODES[0].address, NODES[1].address], key=str.lower)
    with pytest.raises(FedpmError, match="not an enode URL"):
        governed_validators([OrgView("x", "x", Role.GOVERNOR, True, (), ("enode://nope@h:1",))])


def test_vote_plan_adds_removes_and_withdraws_what_is_no_longer_needed() -> None:
    a, b, c, d = (n.address for n in NODES[:4])
    plan = plan_votes(current=[a, b, c], desired=[a, b, d], pending={})
    assert plan.propose == ((d, True), (c, False)) and plan.discard == ()
    again = plan_votes(current=[a, b, c], desired=[a, b, d], pending={d: True, c: False})
    assert again.propose == () and again.discard == ()  # already voted: nothing to send twice
    done = plan_votes(current=[a, b, d], desired=[a, b, d], pending={d.lower(): True})
    assert done.propose == () and done.discard == (d,)  # applied: withdraw the vote
    reversed_ = plan_votes(current=[a, b, c], desired=[a, b, c], pending={d: True})
    assert reversed_.discard == (d,)  # governance changed its mind before the vote passed
    flipped = plan_votes(current=[a, b, c], desired=[a, b], pending={c: True})
    assert flipped.propose == ((c, False),)
    with pytest.raises(FedpmError, match="no validator"):
        plan_votes(current=[a], desired=[], pending={})
