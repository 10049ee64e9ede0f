"""Property-based: any sequence of lease actions against the real anvil does what a reference model of the lease says.

`LeaseModel` restates the contract's rules (contracts/libraries/Leases.sol, MachineLease.sol) in plain Python: it
predicts for every action whether it must succeed or which named error it must revert with, and what the lease holds
afterwards. Each hypothesis example runs on its own chain snapshot; after every step the contract's state, its
`available()` and `held()` views, the token balances and the invoice rebuilt from events must equal the model.
Tariffs and counters are chosen so that integer division rounds (unit prices not divisible by UNIT_SCALE, counters
in odd milli-units), and some actions aim at the edges: using up the deposit to the token, or topping up exactly
what is owed.

Block times are made deterministic with anvil's fixed block-time interval (each block one second after the last;
gas estimation, which decides reverts, runs at the latest block's time), so the dispute window can be probed to the
second.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from chain.reverts import ContractRevert
from fedpm.lease.tariff import UNIT_SCALE, LeaseStatus
from tests.test_lease_helpers import LESSEE, OWNER, UNIT, Leasing

WINDOW = 3 * 86400  # MachineLease.DISPUTE_WINDOW
RUNNING = (LeaseStatus.ACTIVE, LeaseStatus.PAUSED)
PRICES = (7, 1999, 3 * UNIT // 2 + 1)  # per whole unit: every counter that is not a multiple of UNIT_SCALE rounds
CAPS = ("none", "total", "per 2 days")


@dataclass
class LeaseModel:
    """The lease as the contract's rules say it must be; an action returns the error it must revert with, or None."""

    price: int
    cap: int
    cap_period: int
    started_at: int
    deposited: int
    read_at: int  # of the opening reading
    status: LeaseStatus = LeaseStatus.ACTIVE
    counter: int = 0
    charged: int = 0
    unpaid: int = 0
    waived: int = 0
    withdrawn: int = 0
    refunded: int = 0
    closed_at: int = 0
    period: int = 0
    period_charged: int = 0

    @property
    def available(self) -> int:
        return self.deposited - self.charged - self.refunded

    @property
    def held(self) -> int:
        return self.deposited - self.withdrawn - self.refunded

    def gross(self, counter: int) -> int:
        """Priced cumulatively: the rounding of earlier readings is never charged twice nor lost."""
        return counter * self.price // UNIT_SCALE - self.counter * self.price // UNIT_SCALE

    def reading(self, counter: int, read_at: int, now: int) -> str | None:
        if self.status == LeaseStatus.CLOSING:
            if now >= self.closed_at + WINDOW:
                return "DisputeWindowClosed"
            if read_at > self.closed_at:
                return "ReadingAfterClose"
        elif self.status not in RUNNING:
            return "WrongStatus"
        if read_at <= self.read_at:
            return "StaleReading"
        gross = billable = self.gross(counter)
        if self.cap:
            if self.cap_period:
                index = (read_at - self.started_at) // self.cap_period if read_at > self.started_at else 0
                if index != self.period:
                    self.period, self.period_charged = index, 0
            billable = min(gross, self.cap - self.period_charged)
            self.period_charged += billable
        left = self.available
        paid = min(billable, left)
        self.charged += paid
        self.unpaid += billable - paid
        self.waived += gross - billable
        self.counter, self.read_at = counter, read_at
        if self.status == LeaseStatus.ACTIVE and paid == left:
            self.status = LeaseStatus.PAUSED
        return None

    def top_up(self, amount: int) -> str | None:
        if self.status not in RUNNING:
            return "WrongStatus"
        if amount == 0:
            return "ZeroAmount"
        settled = min(self.unpaid, amount)
        self.deposited += amount
        self.unpaid -= settled
        self.charged += settled
        if self.status == LeaseStatus.PAUSED and self.unpaid == 0 and self.available > 0:
            self.status = LeaseStatus.ACTIVE
        return None

    def withdraw(self) -> str | None:
        if self.charged == self.withdrawn:
            return "NothingToWithdraw"
        self.withdrawn = self.charged
        return None

    def close(self, counter: int, read_at: int, now: int) -> str | None:
        error = self.reading(counter, read_at, now)
        if error is None and self.status not in RUNNING:
            error = "WrongStatus"
        if error is None:
            self.status = LeaseStatus.CLOSING  # closed_at: the block time of the close, set by the caller from the receipt
        return error

    def refund(self, now: int) -> str | None:
        if self.status != LeaseStatus.CLOSING:
            return "WrongStatus"
        if now < self.closed_at + WINDOW:
            return "DisputeWindowOpen"
        self.refunded += self.available
        self.status = LeaseStatus.CLOSED
        return None

    def ticks_to_bill(self, target: int) -> int:
        """The fewest counter ticks whose price reaches `target` (exactly, when the tariff allows)."""
        lo, hi = 0, (max(target, 0) + 1) * UNIT_SCALE // self.price + 2
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if self.gross(self.counter + mid) < target else (lo, mid)
        return lo


ACTIONS = {
    "report": st.integers(0, 9 * UNIT_SCALE),  # counter increase in milli-units
    "drain": st.sampled_from([-1, 0, 1]),  # a reading priced at what is available -1, +0, +1
    "top-up": st.integers(0, 32),  # quarters of the unit price (0 must be refused)
    "settle": st.sampled_from([-1, 0, 1]),  # top up what is unpaid -1, +0, +1
    "withdraw": st.just(0),
    "close": st.integers(0, 2 * UNIT_SCALE),
    "dispute": st.integers(0, 2 * UNIT_SCALE),  # a reading timed at the close (stale otherwise)
    "refund": st.sampled_from(["now", "end-1", "end", "late"]),  # when, relative to the dispute window
}
WEIGHTS = {"report": 2, "drain": 2, "settle": 2}  # readings and top-ups first: a closed lease refuses most actions
actions = st.lists(st.one_of([st.tuples(st.just(kind), arg) for kind, arg in ACTIONS.items() for _ in range(WEIGHTS.get(kind, 1))]),
                   min_size=1, max_size=12)

PAUSE_EDGES = [("drain", 1), ("settle", 0), ("report", 500), ("settle", 1), ("drain", -1), ("drain", 0), ("close", 700),
               ("dispute", 300), ("dispute", 1), ("refund", "end-1"), ("dispute", 5), ("refund", "end"), ("withdraw", 0),
               ("refund", "now"), ("report", 1), ("top-up", 1)]
CAP_PERIODS = [("report", 1), ("report", 1), ("report", 998), ("report", 4501), ("refund", "late"), ("report", 9000),
               ("withdraw", 0), ("top-up", 0), ("settle", -1), ("settle", 1), ("close", 1), ("refund", "now"),
               ("dispute", 2000), ("refund", "late"), ("withdraw", 0), ("close", 0)]


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each example costs chain calls
@given(steps=actions, price=st.sampled_from(PRICES), quarters=st.integers(1, 48), cap=st.sampled_from(CAPS))
@example(steps=PAUSE_EDGES, price=7, quarters=10, cap="none")
@example(steps=CAP_PERIODS, price=PRICES[2], quarters=6, cap="per 2 days")
@example(steps=CAP_PERIODS, price=1999, quarters=30, cap="total")
def test_any_action_sequence_does_what_the_model_predicts(consortium, steps, price, quarters, cap):
    w3 = consortium.ctx.w3
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("anvil_setBlockTimestampInterval", [1])
    try:
        _run(Leasing(consortium), steps, price, quarters * price // 4, cap)
    finally:
        w3.provider.make_request("anvil_removeBlockTimestampInterval", [])
        w3.provider.make_request("evm_revert", [snap])


def _now(h: Leasing) -> int:
    return h.ctx.w3.eth.get_block("latest")["timestamp"]


def _mine_at(h: Leasing, timestamp: int) -> None:
    if timestamp > _now(h):
        h.ctx.w3.provider.make_request("evm_mine", [timestamp])


def _run(h: Leasing, steps, price: int, deposit: int, cap_kind: str) -> None:
    cap = 0 if cap_kind == "none" else 5 * price // 2 + 1
    cap_period = 2 * 86400 if cap_kind == "per 2 days" else 0
    fund = deposit + 200 * price
    start = {who: h.balance(who) for who in (LESSEE, OWNER, h.lease.address)}
    lease_id = h.open(deposit=deposit, fund=fund, unit_price=price, min_deposit=0, cap=cap, cap_period=cap_period,
                      valid_until=_now(h) + 365 * 86400)
    opened = h.state(lease_id)
    accepted_at = h.ctx.w3.eth.get_block(h.accepted.block_number)["timestamp"]  # interval blocks may follow it
    assert (opened.status, opened.started_at) == (LeaseStatus.ACTIVE, accepted_at)
    model = LeaseModel(price, cap, cap_period, opened.started_at, deposit, opened.last_read_at)
    for kind, arg in steps:
        trial = copy.copy(model)  # a reverted transaction changes nothing: then the model stays `model`
        expected, send = _predict(h, lease_id, trial, kind, arg)
        try:
            receipt, outcome = send(), None
        except ContractRevert as exc:
            outcome = exc.error_name
        assert outcome == expected, f"{kind} {arg}: the contract gave {outcome or 'success'}, the model predicts {expected or 'success'}"
        if outcome is None:
            model = trial
            if kind == "close":
                model.closed_at = h.ctx.w3.eth.get_block(receipt.block_number)["timestamp"]
        _check(h, lease_id, model, start, fund)


REFUND_AT = {"end-1": -1, "end": 0, "late": 3600}  # seconds after the dispute window ends


def _predict(h: Leasing, lease_id: int, trial: LeaseModel, kind: str, arg) -> tuple[str | None, Callable[[], Any]]:
    """Apply the action to `trial` (the model's prediction: the error expected, or None) and return the transaction."""
    lessee = h.c.sender(LESSEE)
    if kind in ("report", "drain", "close", "dispute"):
        if kind == "dispute":  # one block later too: the window is judged at the same second by estimate and block
            _mine_at(h, _now(h) + 1)
            signed = h.sign(lease_id, trial.counter + arg, read_at=trial.closed_at if trial.status == LeaseStatus.CLOSING else trial.read_at)
        else:
            ticks = trial.ticks_to_bill(trial.available + arg) if kind == "drain" else arg
            signed = h.sign(lease_id, trial.counter + ticks)  # a fresh reading, one block later
        reading = (signed.report.counter, signed.report.read_at, _now(h))
        if kind == "close":
            return trial.close(*reading), partial(h.lease.close, lessee, lease_id, signed)
        return trial.reading(*reading), partial(h.lease.report_usage, h.c.sender("agg-1"), signed)
    if kind in ("top-up", "settle"):
        amount = arg * trial.price // 4 if kind == "top-up" else max(trial.unpaid + arg, 0)
        return trial.top_up(amount), partial(h.lease.top_up, lessee, lease_id, amount)
    if kind == "withdraw":
        return trial.withdraw(), partial(h.lease.withdraw, h.c.sender(OWNER), lease_id)
    if arg != "now":  # refund: time passes first (when not closing, later readings fall in another cap period)
        _mine_at(h, trial.closed_at + WINDOW + REFUND_AT[arg] if trial.status == LeaseStatus.CLOSING else _now(h) + WINDOW)
    return trial.refund(_now(h)), partial(h.lease.claim_refund, lessee, lease_id)


def _check(h: Leasing, lease_id: int, m: LeaseModel, start: dict, fund: int) -> None:
    s = h.state(lease_id)
    assert (s.status, s.deposited, s.charged, s.unpaid, s.withdrawn, s.refunded, s.last_counter, s.last_read_at, s.closed_at) == (
        m.status, m.deposited, m.charged, m.unpaid, m.withdrawn, m.refunded, m.counter, m.read_at, m.closed_at)
    assert h.lease.available(lease_id) == m.available
    assert h.lease.held(lease_id) == m.held
    assert h.balance(h.lease.address) - start[h.lease.address] == m.held
    assert h.balance(OWNER) - start[OWNER] == m.withdrawn
    assert h.balance(LESSEE) - start[LESSEE] == fund - m.deposited + m.refunded
    inv = h.lease.invoice(lease_id)
    assert (inv.status, inv.deposited, inv.charged, inv.unpaid, inv.waived, inv.withdrawn, inv.refunded) == (
        m.status, m.deposited, m.charged, m.unpaid, m.waived, m.withdrawn, m.refunded)
