"""Helpers and fixtures for the lease tests (imported by tests/test_lease_*.py; holds no tests itself)."""

from __future__ import annotations

from typing import Any

import pytest

from fedpm.lease.client import LeaseView, MachineLease
from fedpm.lease.tariff import Tariff, Unit
from fedpm.lease.usage import SignedReport
from tests.conftest import advance_time

UNIT = 10**18  # one token
MACHINE = "factory-1-m1"
LESSEE = "factory-1"
OWNER = "maker"


def stamp(ctx: Any, seconds: int = 1) -> int:
    """Advance the chain clock and return the new block time: a fresh, strictly later reading time."""
    advance_time(ctx, seconds)
    return ctx.w3.eth.get_block("latest")["timestamp"]


def make_tariff(ctx: Any, **overrides: Any) -> Tariff:
    values = {"tariff_id": "t-hour-1", "unit": Unit.OPERATING_HOUR, "unit_price": 2 * UNIT, "valid_until": stamp(ctx, 0) + 30 * 86400,
              "min_deposit": 10 * UNIT}
    values.update(overrides)
    return Tariff(**values)


class Leasing:
    """The deployed MachineLease (or `lease`, another instance) and its token with the test consortium, and shortcuts
    over the clients."""

    def __init__(self, consortium: Any, lease: MachineLease | None = None) -> None:
        self.c = consortium
        self.ctx = consortium.ctx
        self.lease = lease if lease is not None else MachineLease(consortium.ctx)
        self.token = self.lease.token
        self.accepted: Any = None  # the receipt of the last `open`'s accept transaction

    def fund(self, org: str, amount: int) -> None:
        self.c.mint(["gov-a", "gov-b"], self.c.accounts[org].address, amount)

    def balance(self, who: str) -> int:
        address = self.c.accounts[who].address if who in self.c.accounts else who
        return self.token.balance_of(address)

    def offer(self, machine: str = MACHINE, owner: str = OWNER, **tariff: Any) -> int:
        lease_id, _ = self.lease.offer(self.c.sender(owner), machine, make_tariff(self.ctx, **tariff))
        return lease_id

    def sign(self, lease_id: int, counter: int, *, read_at: int | None = None, device: Any = None, machine: str = MACHINE) -> SignedReport:
        device = device or self.c.devices[machine]
        return self.lease.sign_usage(device, lease_id, machine, counter, stamp(self.ctx) if read_at is None else read_at)

    def open(self, deposit: int = 20 * UNIT, *, fund: int | None = None, opening: int = 0, **tariff: Any) -> int:
        lease_id = self.offer(**tariff)
        self.fund(LESSEE, deposit if fund is None else fund)
        self.accepted = self.lease.accept(self.c.sender(LESSEE), lease_id, deposit, self.sign(lease_id, opening))
        return lease_id

    def report(self, lease_id: int, counter: int, *, by: str = "agg-1", **kw: Any) -> Any:
        return self.lease.report_usage(self.c.sender(by), self.sign(lease_id, counter, **kw))

    def state(self, lease_id: int) -> LeaseView:
        return self.lease.lease(lease_id)


@pytest.fixture
def leasing(consortium: Any, snapshot: None) -> Leasing:
    return Leasing(consortium)
