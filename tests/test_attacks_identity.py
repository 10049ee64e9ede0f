"""Issue 12, device identity and the dispute window under attack, with real transactions on anvil: a lessee binding its
own key mid-lease to under-report, a lessor swapping in a fresh key mid-lease to over-report, and a stale close.

Each test performs the attack the way a party would (through whatever the contracts accept) and then asserts what the
honest outcome must be; the attack steps catch reverts (`attempt`) so that on vulnerable contracts the test fails at
the outcome, not at a missing refusal."""

from __future__ import annotations

from typing import Any, Callable

from chain.reverts import ContractRevert
from ground.ids import to_bytes32
from tests.conftest import advance_time, dev_key
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, UNIT, Leasing, leasing, stamp  # noqa: F401

UNITS = 1000  # counter ticks per tariff unit (UNIT_SCALE)


def attempt(step: Callable[[], Any]) -> ContractRevert | None:
    """Run one step of an attack; the revert that refused it, or None if the contracts let it through."""
    try:
        step()
    except ContractRevert as exc:
        return exc
    return None


def open_lease(h: Leasing, deposit_tokens: int) -> int:
    """A lease of the machine at 1 token per unit, opened at counter 0 by its genuine device."""
    return h.open(deposit=deposit_tokens * UNIT, unit_price=UNIT, min_deposit=UNIT)


def test_a_lessee_cannot_bind_its_own_key_mid_lease_and_close_with_an_unchanged_counter(leasing):
    """The attack of issue 12: the lessee binds a software key of its own to the leased machine, closes with the
    counter unchanged since the last charge, stamped at the close, so the manufacturer's genuine reading taken before
    the close is stale: 5,000 tokens charged instead of 50,000."""
    h = leasing
    reg = h.c.registry
    lease_id = open_lease(h, 60_000)
    h.report(lease_id, 5_000 * UNITS)  # 5,000 tokens charged so far
    genuine = h.sign(lease_id, 50_000 * UNITS)  # the machine ran on: the device signs 50,000 units; the maker holds it
    rogue = dev_key("lessee-software-key")
    advance_time(h.ctx, 60)

    bound = attempt(lambda: reg.register_device(h.c.sender(LESSEE), rogue.address, MACHINE))
    closed = attempt(lambda: h.lease.close(h.c.sender(LESSEE), lease_id, h.sign(lease_id, 5_000 * UNITS, device=rogue)))
    answered = attempt(lambda: h.lease.report_usage(h.c.sender(OWNER), genuine))

    assert answered is None, f"the manufacturer's genuine reading was refused: {answered}"
    assert h.state(lease_id).charged == 50_000 * UNIT
    assert bound is not None and bound.error_name == "NotManufacturer"
    assert closed is not None and closed.error_name == "UnknownDevice"
    assert reg.device(rogue.address) is None


def test_a_lessor_cannot_change_the_key_mid_lease_to_over_report_or_stop_the_lessee(leasing):
    """The other direction: the manufacturer (the lessor, who provisions keys) revokes the genuine key mid-lease,
    binds or rotates to a fresh key of its own and reports an inflated counter. Without the lessee's approval nothing
    changes: the genuine key keeps counting (and the lessee can close), the fresh key counts for nothing."""
    h = leasing
    reg = h.c.registry
    lease_id = open_lease(h, 60_000)
    h.report(lease_id, 1_000 * UNITS)
    genuine, fresh = h.c.devices[MACHINE].address, dev_key("lessor-fresh-key")
    maker = h.c.sender(OWNER)

    attempt(lambda: reg.revoke_device(maker, genuine))
    bound = attempt(lambda: reg.register_device(maker, fresh.address, MACHINE))
    honest = attempt(lambda: h.report(lease_id, 2_000 * UNITS))
    assert honest is None, f"the lessee's genuine reading stopped counting mid-lease: {honest}"
    attempt(lambda: maker.transact(reg.contract.functions.rotateDevice(to_bytes32(MACHINE), fresh.address, 0)))
    inflated = attempt(lambda: h.report(lease_id, 90_000 * UNITS, device=fresh))
    closed = attempt(lambda: h.lease.close(h.c.sender(LESSEE), lease_id, h.sign(lease_id, 2_500 * UNITS)))

    assert inflated is not None and inflated.error_name == "UnknownDevice"
    assert closed is None, f"the lessee could not close with its genuine device: {closed}"
    assert h.state(lease_id).charged == 2_500 * UNIT
    assert bound is not None and bound.error_name == "MachineHasDevice"
    assert reg.device(genuine).active and reg.device(fresh.address) is None
    assert reg.pending_device_change(MACHINE) is None  # the close released the lock and dropped what waited for the lessee


def test_a_stale_close_cannot_be_forced_and_a_fresher_reading_answers_a_close(leasing):
    """A lessee keeps an early genuine reading, withholds every later one from the lessor for ten days and closes
    with the early one: the lessor has no reading taken before the close to dispute it with. The close must name a
    fresh reading; and a close leaves the lessor the dispute window to answer with a fresher genuine reading."""
    h = leasing
    lease_id = open_lease(h, 60_000)
    h.report(lease_id, 1_000 * UNITS)
    kept = h.sign(lease_id, 1_500 * UNITS)
    advance_time(h.ctx, 10 * 86400)  # the machine runs for ten days; its readings stay with the lessee

    stale = attempt(lambda: h.lease.close(h.c.sender(LESSEE), lease_id, kept))
    half_hour_old = h.sign(lease_id, 30_000 * UNITS)
    advance_time(h.ctx, 1500)
    lessor_has = h.sign(lease_id, 31_000 * UNITS)  # a later genuine reading the lessor received
    advance_time(h.ctx, 300)
    closed = attempt(lambda: h.lease.close(h.c.sender(LESSEE), lease_id, half_hour_old))
    answered = attempt(lambda: h.lease.report_usage(h.c.sender(OWNER), lessor_has))

    assert stale is not None and stale.error_name == "StaleFinalReading", f"a ten-day-old final reading closed the lease: {stale}"
    assert closed is None and answered is None, (closed, answered)
    assert h.state(lease_id).charged == 31_000 * UNIT
