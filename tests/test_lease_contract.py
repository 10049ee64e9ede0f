"""MachineLease and ConsortiumToken against a real anvil: the lease life cycle and every rejection path."""

from __future__ import annotations

import pytest

from chain.reverts import (CounterRollback, DepositTooLow, DeviceNotActive, DeviceOfAnotherMachine, DisputeWindowOpen, MachineLeased,
                           MissingRole, NotLessee, NotLeaseOwner, NotManufacturer, NotMember, NotRegistry, NothingToWithdraw, ReadingAfterClose,
                           StaleReading, UnknownDevice, WrongLease, WrongStatus)
from fedpm.consortium.client import Role
from fedpm.lease.client import ConsortiumToken
from fedpm.lease.tariff import UNIT_SCALE, LeaseStatus
from tests.conftest import advance_time, dev_key
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, UNIT, Leasing, leasing, stamp  # noqa: F401

HOUR = UNIT_SCALE  # counter ticks per operating hour


def test_solidity_constants_match_python(leasing):
    assert leasing.lease.unit_scale() == UNIT_SCALE
    assert leasing.lease.token.address == ConsortiumToken(leasing.ctx).address


def test_only_executed_mint_proposals_mint(leasing):
    for sender in (leasing.c.sender("gov-a"), leasing.c.sender("factory-1"), leasing.c.ctx.sender(dev_key("outsider"))):
        with pytest.raises(NotRegistry):
            sender.transact(leasing.token.contract.functions.mint(sender.address, 1))  # the client offers no mint: call it raw

    leasing.fund("factory-1", 5 * UNIT)

    assert leasing.balance("factory-1") == 5 * UNIT


def test_usage_is_charged_at_the_tariff_and_earnings_are_pulled(leasing):
    lease_id = leasing.open(deposit=20 * UNIT)  # 2 tokens per hour

    leasing.report(lease_id, 3 * HOUR)  # submitted by a third party
    leasing.report(lease_id, 3 * HOUR + HOUR // 2)
    before = leasing.balance(OWNER)
    leasing.lease.withdraw(leasing.c.sender(OWNER), lease_id)

    s = leasing.state(lease_id)
    assert (s.charged, s.available, s.status) == (7 * UNIT, 13 * UNIT, LeaseStatus.ACTIVE)
    assert leasing.balance(OWNER) - before == 7 * UNIT
    assert leasing.balance(leasing.lease.address) == 13 * UNIT
    with pytest.raises(NothingToWithdraw):
        leasing.lease.withdraw(leasing.c.sender(OWNER), lease_id)


def test_deposit_exhaustion_pauses_and_top_up_settles_and_resumes(leasing):
    lease_id = leasing.open(deposit=10 * UNIT)

    rcpt = leasing.report(lease_id, 7 * HOUR)  # 14 tokens due, 10 deposited
    paused = leasing.lease.receipt_logs("LeasePaused", rcpt)
    s = leasing.state(lease_id)
    assert (s.status, s.charged, s.unpaid, s.available) == (LeaseStatus.PAUSED, 10 * UNIT, 4 * UNIT, 0)
    assert paused[0]["args"]["unpaid"] == 4 * UNIT

    leasing.report(lease_id, 8 * HOUR)  # still counted while paused
    assert leasing.state(lease_id).unpaid == 6 * UNIT

    leasing.fund(LESSEE, 10 * UNIT)
    leasing.lease.top_up(leasing.c.sender(LESSEE), lease_id, 10 * UNIT)
    s = leasing.state(lease_id)
    assert (s.status, s.charged, s.unpaid, s.available) == (LeaseStatus.ACTIVE, 16 * UNIT, 0, 4 * UNIT)


def test_top_up_that_does_not_cover_the_debt_stays_paused(leasing):
    lease_id = leasing.open(deposit=10 * UNIT)
    leasing.report(lease_id, 10 * HOUR)  # 20 due
    leasing.fund(LESSEE, 5 * UNIT)

    leasing.lease.top_up(leasing.c.sender(LESSEE), lease_id, 5 * UNIT)

    s = leasing.state(lease_id)
    assert (s.status, s.unpaid, s.charged) == (LeaseStatus.PAUSED, 5 * UNIT, 15 * UNIT)


def test_cap_per_period_waives_usage_above_it(leasing):
    lease_id = leasing.open(deposit=100 * UNIT, cap=5 * UNIT, cap_period=86400)

    leasing.report(lease_id, 2 * HOUR)  # 4
    leasing.report(lease_id, 4 * HOUR)  # 4 more, only 1 left under the cap
    advance_time(leasing.ctx, 86400)
    leasing.report(lease_id, 5 * HOUR)  # new period: 2

    s = leasing.state(lease_id)
    inv = leasing.lease.invoice(lease_id)
    assert s.charged == 7 * UNIT
    assert inv.waived == 3 * UNIT
    assert [p.amount for p in inv.periods] == [4 * UNIT, 1 * UNIT, 2 * UNIT]


def test_total_cap_without_period(leasing):
    lease_id = leasing.open(deposit=100 * UNIT, cap=3 * UNIT)

    leasing.report(lease_id, 10 * HOUR)
    advance_time(leasing.ctx, 86400)
    leasing.report(lease_id, 20 * HOUR)

    assert leasing.state(lease_id).charged == 3 * UNIT


def test_close_then_refund_after_dispute_window(leasing):
    lease_id = leasing.open(deposit=20 * UNIT)
    leasing.report(lease_id, 2 * HOUR)
    lessee = leasing.c.sender(LESSEE)
    before = leasing.balance(LESSEE)

    leasing.lease.close(lessee, lease_id, leasing.sign(lease_id, 3 * HOUR))
    with pytest.raises(DisputeWindowOpen):
        leasing.lease.claim_refund(lessee, lease_id)
    advance_time(leasing.ctx, leasing.lease.dispute_window())
    leasing.lease.claim_refund(lessee, lease_id)

    s = leasing.state(lease_id)
    assert (s.status, s.charged, s.refunded) == (LeaseStatus.CLOSED, 6 * UNIT, 14 * UNIT)
    assert leasing.balance(LESSEE) - before == 14 * UNIT
    assert leasing.lease.active_lease(MACHINE) == 0


def test_stale_final_reading_can_be_disputed_with_a_fresher_one(leasing):
    lease_id = leasing.open(deposit=20 * UNIT)
    fresh = leasing.sign(lease_id, 5 * HOUR, read_at=stamp(leasing.ctx, 10))  # the device's latest, withheld by the lessee
    stale_final = leasing.sign(lease_id, 1 * HOUR, read_at=fresh.report.read_at - 5)
    leasing.lease.close(leasing.c.sender(LESSEE), lease_id, stale_final)

    leasing.lease.report_usage(leasing.c.sender(OWNER), fresh)

    assert leasing.state(lease_id).charged == 10 * UNIT
    with pytest.raises(ReadingAfterClose):
        leasing.report(lease_id, 6 * HOUR)


def test_invoice_from_events_reconciles_with_contract_and_token_balance(leasing):
    lease_id = leasing.open(deposit=10 * UNIT)
    leasing.report(lease_id, 3 * HOUR)
    leasing.report(lease_id, 6 * HOUR)  # pauses: 12 due, 10 paid
    leasing.fund(LESSEE, 5 * UNIT)
    leasing.lease.top_up(leasing.c.sender(LESSEE), lease_id, 5 * UNIT)
    leasing.lease.withdraw(leasing.c.sender(OWNER), lease_id)
    leasing.lease.close(leasing.c.sender(LESSEE), lease_id, leasing.sign(lease_id, 6 * HOUR + 250))
    advance_time(leasing.ctx, 3 * 86400)
    leasing.lease.claim_refund(leasing.c.sender(LESSEE), lease_id)

    inv = leasing.lease.invoice(lease_id)

    assert leasing.lease.reconcile(inv).ok
    assert inv.held == leasing.balance(leasing.lease.address) == inv.earnings_due == UNIT // 2  # final reading not yet withdrawn
    assert (inv.deposited, inv.charged, inv.withdrawn, inv.refunded, inv.unpaid) == (15 * UNIT, 12 * UNIT + UNIT // 2, 12 * UNIT, 2 * UNIT + UNIT // 2, 0)
    assert [line.kind for line in inv.lines] == ["offer", "accept", "usage", "usage", "pause", "top-up", "resume", "withdrawal", "usage", "closing", "refund"]
    assert inv.status == LeaseStatus.CLOSED


# ---------------------------------------------------------------- who may act


def test_offer_by_non_member_or_non_manufacturer_is_rejected(leasing):
    tariff_owner = leasing.c.ctx.sender(dev_key("outsider"))
    with pytest.raises(NotMember):
        leasing.lease.offer(tariff_owner, MACHINE, _tariff(leasing))
    with pytest.raises(MissingRole):
        leasing.lease.offer(leasing.c.sender("factory-2"), MACHINE, _tariff(leasing))


def test_offer_by_a_manufacturer_that_did_not_build_the_machine_is_rejected(leasing):
    other = dev_key("maker-2")
    leasing.c.registry.admit(leasing.c.sender("gov-a"), [leasing.c.sender("gov-b")], "maker-2", "Maker 2", Role.MANUFACTURER, other.address)

    with pytest.raises(NotManufacturer):
        leasing.lease.offer(leasing.c.ctx.sender(other), MACHINE, _tariff(leasing))


def test_one_open_lease_per_machine(leasing):
    first = leasing.offer()
    with pytest.raises(MachineLeased):
        leasing.offer()
    leasing.lease.cancel_offer(leasing.c.sender(OWNER), first)
    assert leasing.offer() == first + 1


def test_only_the_machine_operator_may_accept(leasing):
    lease_id = leasing.offer()
    leasing.fund("factory-2", 20 * UNIT)
    with pytest.raises(NotLessee):
        leasing.lease.accept(leasing.c.sender("factory-2"), lease_id, 20 * UNIT, leasing.sign(lease_id, 0))


def test_accept_without_enough_deposit_is_rejected(leasing):
    lease_id = leasing.offer()
    with pytest.raises(DepositTooLow):
        leasing.lease.accept(leasing.c.sender(LESSEE), lease_id, 5 * UNIT, leasing.sign(lease_id, 0))
    with pytest.raises(Exception) as err:  # approved but no tokens: the ERC-20 refuses the transferFrom
        leasing.lease.accept(leasing.c.sender(LESSEE), lease_id, 20 * UNIT, leasing.sign(lease_id, 0))
    assert getattr(err.value, "error_name", "") == "ERC20InsufficientBalance"
    assert leasing.state(lease_id).status == LeaseStatus.OFFERED
    assert leasing.token.allowance(leasing.c.accounts[LESSEE].address, leasing.lease.address) == 20 * UNIT  # the approval stands for a retry


def test_only_owner_withdraws_and_only_lessee_tops_up(leasing):
    lease_id = leasing.open()
    leasing.report(lease_id, HOUR)
    with pytest.raises(NotLeaseOwner):
        leasing.lease.withdraw(leasing.c.sender(LESSEE), lease_id)
    leasing.fund("factory-2", UNIT)
    with pytest.raises(NotLessee):
        leasing.lease.top_up(leasing.c.sender("factory-2"), lease_id, UNIT)


def test_reports_need_an_accepted_lease(leasing):
    lease_id = leasing.offer()
    with pytest.raises(WrongStatus):
        leasing.report(lease_id, HOUR)


# ---------------------------------------------------------------- signed counters


def test_counter_rollback_and_replay_are_rejected(leasing):
    lease_id = leasing.open()
    signed = leasing.sign(lease_id, 4 * HOUR)
    leasing.lease.report_usage(leasing.c.sender("agg-1"), signed)

    with pytest.raises(StaleReading):
        leasing.lease.report_usage(leasing.c.sender("agg-2"), signed)  # replay
    with pytest.raises(CounterRollback):
        leasing.report(lease_id, 3 * HOUR)
    with pytest.raises(StaleReading):
        leasing.report(lease_id, 5 * HOUR, read_at=signed.report.read_at)  # same nonce, other counter
    assert leasing.state(lease_id).charged == 8 * UNIT


def test_same_counter_with_newer_time_is_a_free_heartbeat(leasing):
    lease_id = leasing.open()
    leasing.report(lease_id, HOUR)
    leasing.report(lease_id, HOUR)
    assert leasing.state(lease_id).charged == 2 * UNIT


def test_only_the_bound_active_device_counts(leasing):
    lease_id = leasing.open()
    other_machine_device = leasing.c.devices["factory-2-m1"]

    with pytest.raises(DeviceOfAnotherMachine):
        leasing.report(lease_id, HOUR, device=other_machine_device)
    with pytest.raises(UnknownDevice):
        leasing.report(lease_id, HOUR, device=dev_key("random"))
    reg = leasing.c.registry
    waiting = reg.revoke_device(leasing.c.sender(OWNER), leasing.c.devices[MACHINE].address).pending  # the lease locks the key
    reg.approve_device_change(leasing.c.sender(LESSEE), MACHINE, waiting.change_hash)  # both parties agree: revoked
    with pytest.raises(DeviceNotActive):
        leasing.report(lease_id, HOUR)
    assert leasing.state(lease_id).charged == 0


def test_report_for_another_lease_or_machine_is_rejected(leasing):
    lease_id = leasing.open()
    signed = leasing.lease.sign_usage(leasing.c.devices[MACHINE], lease_id, "factory-2-m1", HOUR, stamp(leasing.ctx))
    with pytest.raises(WrongLease):
        leasing.lease.report_usage(leasing.c.sender("agg-1"), signed)


def test_python_digest_matches_contract(leasing):
    from fedpm.lease.usage import digest

    signed = leasing.sign(7, 123456, read_at=1_700_000_000)
    assert leasing.lease.usage_digest(signed.report) == digest(signed.report, signed.chain_id, signed.contract)


def _tariff(leasing: Leasing):
    from tests.test_lease_helpers import make_tariff

    return make_tariff(leasing.ctx)
