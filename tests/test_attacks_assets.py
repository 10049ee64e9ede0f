"""Issue 11, attacks 7 and 8 performed with real transactions on anvil: a lessee's deposit locked when its org
leaves, and one machine's party squatting another machine's maintenance record hash."""

from __future__ import annotations

import pytest

from ground.ids import to_bytes32
from chain.reverts import NotLeaseOwner, NotLessee, NotMember
from fedpm.lease.tariff import LeaseStatus
from fedpm.maintenance.client import MaintenanceLog
from tests.conftest import advance_time, dev_key
from tests.test_lease_helpers import LESSEE, OWNER, UNIT, Leasing, leasing  # noqa: F401
from tests.test_maintenance_log import rec


def remove_org(consortium, org: str) -> None:
    reg = consortium.registry
    reg.enact(reg.propose_remove_org(consortium.sender("gov-a"), org), [consortium.sender("gov-b")], consortium.sender("gov-a"))


def closed_lease(h: Leasing) -> int:
    """A lease with 6 tokens charged of a 20-token deposit, closed by the lessee: 14 refundable, 6 withdrawable."""
    lease_id = h.open(deposit=20 * UNIT)
    h.report(lease_id, 3000)
    h.lease.close(h.c.sender(LESSEE), lease_id, h.sign(lease_id, 3000))
    return lease_id


def test_attack7_refund_and_earnings_stay_claimable_after_both_orgs_leave(leasing):
    h = leasing
    lease_id = closed_lease(h)
    lessee_before, owner_before = h.balance(LESSEE), h.balance(OWNER)
    remove_org(h.c, LESSEE)  # the attack: governance (or the org's own exit) strands what the contract owes it
    remove_org(h.c, OWNER)
    advance_time(h.ctx, h.lease.dispute_window())
    with pytest.raises(NotLessee):  # what a left org is owed goes to its paying account, not to whoever asks first
        h.lease.claim_refund(h.c.sender("factory-2"), lease_id)
    with pytest.raises(NotLeaseOwner):
        h.lease.withdraw(h.c.sender("factory-2"), lease_id)

    h.lease.claim_refund(h.c.sender(LESSEE), lease_id)  # the account that paid the deposit
    h.lease.withdraw(h.c.sender(OWNER), lease_id)  # the account that offered the lease

    assert h.balance(LESSEE) - lessee_before == 14 * UNIT
    assert h.balance(OWNER) - owner_before == 6 * UNIT
    assert h.lease.held(lease_id) == 0 and h.state(lease_id).status == LeaseStatus.CLOSED


def test_attack7_while_the_org_is_in_an_account_it_removed_cannot_claim(leasing):
    h = leasing
    reg = h.c.registry
    other = h.c.ctx.sender(dev_key("factory-1-second"))
    reg.enroll(h.c.sender(LESSEE), other)
    lease_id = closed_lease(h)
    reg.remove_account(h.c.sender(LESSEE), h.c.accounts[LESSEE].address)  # e.g. a lost key
    advance_time(h.ctx, h.lease.dispute_window())

    with pytest.raises(NotMember):  # removed from a current org: the org decides, not the old key
        h.lease.claim_refund(h.c.sender(LESSEE), lease_id)
    h.lease.claim_refund(other, lease_id)  # the org's current account

    assert h.balance(other.address) == 14 * UNIT


def test_attack8_a_record_hash_squatted_on_another_machine_does_not_block_this_machine(consortium, snapshot):
    log = MaintenanceLog(consortium.ctx)
    mine = rec(1)  # factory-1-m1's next record
    squatter = consortium.sender("factory-2")
    squatter.transact(log.contract.functions.append(to_bytes32("factory-2-m1"), bytes.fromhex(mine.hash[2:]), b"\0" * 32, b"\0" * 32, 1, mine.time))

    _, index = log.append(consortium.sender("factory-1"), mine)  # the attack blocked exactly this append

    assert index == 0 and log.head("factory-1-m1") == mine.hash
    assert log.find("factory-1-m1", mine.hash).author_org == "factory-1"
