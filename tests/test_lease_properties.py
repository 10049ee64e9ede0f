"""Property-based: for any sequence of lease actions against the real anvil, money is conserved.

Each hypothesis example runs on its own chain snapshot (evm_snapshot / evm_revert). Actions that the contract
refuses in the current state (top-up after close, refund inside the window, ...) must revert with a named error
and change nothing; after every step:
  charged + refunded + available == deposited       (contract state)
  charged + unpaid + waived == price of the counter increase since the opening reading   (model)
  token balance of the contract == held == deposited - withdrawn - refunded
  the invoice rebuilt from events equals the contract state.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chain.reverts import ContractRevert
from fedpm.lease import client
from fedpm.lease.invoice import read_invoice
from fedpm.lease.tariff import UNIT_SCALE
from tests.conftest import advance_time
from tests.test_lease_helpers import LESSEE, OWNER, UNIT, Leasing

PRICE = 3 * UNIT // 2  # 1.5 tokens per hour: exercises rounding of milli-unit counters

actions = st.lists(st.one_of(
    st.tuples(st.just("report"), st.integers(0, 9 * UNIT_SCALE)),
    st.tuples(st.just("top-up"), st.integers(1, 8)),
    st.tuples(st.just("withdraw"), st.just(0)),
    st.tuples(st.just("close"), st.integers(0, 2 * UNIT_SCALE)),
    st.tuples(st.just("refund"), st.booleans()),
), min_size=1, max_size=7)


def _snapshot(ctx):
    return ctx.w3.provider.make_request("evm_snapshot", [])["result"]


@settings(max_examples=18, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each example costs chain calls
@given(steps=actions, deposit=st.integers(1, 12), cap=st.sampled_from([0, 7 * UNIT]))
def test_any_action_sequence_conserves_tokens(consortium, steps, deposit, cap):
    ctx = consortium.ctx
    snap = _snapshot(ctx)
    try:
        _run(Leasing(consortium), steps, deposit * UNIT, cap)
    finally:
        ctx.w3.provider.make_request("evm_revert", [snap])


def _run(h: Leasing, steps, deposit: int, cap: int) -> None:
    lease_id = h.open(deposit=deposit, fund=deposit + 100 * UNIT, unit_price=PRICE, min_deposit=0, cap=cap)
    opening = counter = 0
    lessee, owner = h.c.sender(LESSEE), h.c.sender(OWNER)
    owner_start = h.balance(OWNER)
    for kind, arg in steps:
        try:
            if kind == "report":
                h.report(lease_id, counter + arg)
                counter += arg
            elif kind == "top-up":
                client.top_up(h.lease, h.token, lessee, lease_id, arg * UNIT)
            elif kind == "withdraw":
                client.withdraw(h.lease, owner, lease_id)
            elif kind == "close":
                client.close(h.lease, lessee, lease_id, h.sign(lease_id, counter + arg))
                counter += arg
            elif kind == "refund":
                if arg:
                    advance_time(h.ctx, 3 * 86400)
                client.claim_refund(h.lease, lessee, lease_id)
        except ContractRevert as exc:
            assert exc.error_name in {"WrongStatus", "NothingToWithdraw", "DisputeWindowOpen", "DisputeWindowClosed", "ReadingAfterClose"}, exc
        _check(h, lease_id, opening, counter, owner_start)


def _check(h: Leasing, lease_id: int, opening: int, counter: int, owner_start: int) -> None:
    s = h.state(lease_id)
    gross = counter * PRICE // UNIT_SCALE - opening * PRICE // UNIT_SCALE
    inv = read_invoice(h.lease, lease_id)
    assert s.charged + s.refunded + s.available == s.deposited
    assert s.available >= 0 and s.withdrawn <= s.charged
    assert s.charged + s.unpaid + inv.waived == gross
    assert h.balance(h.lease.address) == s.held == h.lease.functions.held(lease_id).call()
    assert h.balance(OWNER) - owner_start == s.withdrawn
    assert (inv.deposited, inv.charged, inv.withdrawn, inv.refunded, inv.unpaid, inv.status) == (
        s.deposited, s.charged, s.withdrawn, s.refunded, s.unpaid, s.status)
