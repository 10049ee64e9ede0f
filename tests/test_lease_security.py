"""Pull payments under attack: a token with a receive hook hands control to a contract account of the owner
(or lessee) org, which re-enters `withdraw` / `claimRefund`. The guard must refuse, and exactly the amount due
must move once. The test-only Solidity in tests/contracts/ is compiled here (not deployed by deploy_all)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from chain.compile import compile_contracts
from chain.toolchain import REPO_ROOT
from fedpm.consortium.client import ConsortiumRegistry
from fedpm.lease.client import MachineLease
from fedpm.lease.tariff import LeaseStatus
from ground.ids import to_bytes32
from tests.conftest import advance_time
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, UNIT, Leasing, leasing, make_tariff, stamp  # noqa: F401

REENTRANT = keccak(text="ReentrancyGuardReentrantCall()")[:4]


def compile_test_contracts() -> dict[str, dict[str, Any]]:
    """abi + bytecode of tests/contracts/*.sol, through the one compile path (cached in out/compile/)."""
    arts = compile_contracts(contracts_dir=REPO_ROOT / "tests" / "contracts")
    return {name: {"abi": a.abi, "bytecode": a.bytecode} for name, a in arts.items()}


@pytest.fixture
def hooked(leasing: Leasing):
    """A second MachineLease settled in HookToken, the attacker contract, and HookToken itself (anyone may mint it)."""
    arts = compile_test_contracts()
    w3, deployer = leasing.ctx.w3, leasing.c.sender("gov-a")

    def deploy(abi: list, bytecode: str, *args: Any) -> Any:
        return w3.eth.contract(address=deployer.deploy(abi, bytecode, *args).contract_address, abi=abi)

    token = deploy(arts["HookToken"]["abi"], arts["HookToken"]["bytecode"])
    lease_art = leasing.ctx.artifacts["MachineLease"]
    lease = deploy(lease_art.abi, lease_art.bytecode, leasing.c.registry.address, token.address)
    attacker = deploy(arts["ReentrantOwner"]["abi"], arts["ReentrantOwner"]["bytecode"], lease.address)
    reg = leasing.c.registry  # the governors trust it to lock device keys during its leases, as the deployment's
    reg.enact(reg.propose_add_lease_contract(deployer, lease.address), [leasing.c.sender("gov-b")], deployer)
    return Leasing(leasing.c, MachineLease(leasing.ctx, address=lease.address)), attacker, token


def join(reg: ConsortiumRegistry, member: Any, attacker: Any) -> None:
    """Add the attacker contract to `member`'s org: the member offers, the contract accepts through `exec`."""
    reg.add_account(member, attacker.address)
    accept = reg.contract.functions.acceptAccount(to_bytes32(reg.org_of(member.address)))._encode_transaction_data()
    member.transact(attacker.functions.exec(reg.address, accept))


def test_reentrant_withdraw_is_refused_and_pays_once(hooked):
    h, attacker, hook = hooked
    join(h.c.registry, h.c.sender(OWNER), attacker)  # the contract acts for the owner org
    h.c.sender("gov-a").transact(hook.functions.mint(h.c.accounts[LESSEE].address, 20 * UNIT))
    lease_id, _ = h.lease.offer(h.c.sender(OWNER), MACHINE, make_tariff(h.ctx))
    h.lease.accept(h.c.sender(LESSEE), lease_id, 20 * UNIT, h.sign(lease_id, 0))
    h.report(lease_id, 3000)  # 6 tokens earned

    h.c.sender(OWNER).transact(attacker.functions.attackWithdraw(lease_id))

    assert attacker.functions.reentryError().call()[:4] == REENTRANT
    assert not attacker.functions.reentered().call()
    assert h.token.balance_of(attacker.address) == 6 * UNIT
    assert h.token.balance_of(h.lease.address) == h.lease.held(lease_id) == 14 * UNIT


def test_reentrant_refund_is_refused_and_pays_once(hooked):
    h, attacker, hook = hooked
    join(h.c.registry, h.c.sender(LESSEE), attacker)  # the contract acts for the lessee org
    h.c.sender("gov-a").transact(hook.functions.mint(attacker.address, 20 * UNIT))
    lease_id, _ = h.lease.offer(h.c.sender(OWNER), MACHINE, make_tariff(h.ctx))
    opening = h.sign(lease_id, 0)
    h.c.sender(LESSEE).transact(attacker.functions.exec(h.token.address, h.token.contract.functions.approve(h.lease.address, 20 * UNIT)._encode_transaction_data()))
    h.c.sender(LESSEE).transact(attacker.functions.exec(h.lease.address, h.lease.contract.functions.accept(lease_id, 20 * UNIT, opening.report.to_chain(), opening.signature)._encode_transaction_data()))
    final = h.sign(lease_id, 1000)  # 2 tokens
    h.c.sender(LESSEE).transact(attacker.functions.exec(h.lease.address, h.lease.contract.functions.close(lease_id, final.report.to_chain(), final.signature)._encode_transaction_data()))
    advance_time(h.ctx, 3 * 86400)

    h.c.sender(LESSEE).transact(attacker.functions.attackRefund(lease_id))

    assert attacker.functions.reentryError().call()[:4] == REENTRANT
    assert h.token.balance_of(attacker.address) == 18 * UNIT
    assert h.lease.held(lease_id) == h.token.balance_of(h.lease.address) == 2 * UNIT
    assert h.lease.lease(lease_id).status == LeaseStatus.CLOSED
