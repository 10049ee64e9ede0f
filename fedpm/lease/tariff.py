"""Tariffs and billing periods, shaped after the KOSMoS JSON specifications (tariff and billing).

A tariff: id, unit, unit price, currency (the settlement token), validity, plus the lease terms the contract
enforces (minimum deposit, cap per period or total). A billing record: period, usage, amount. Pure data with
JSON (de)serialization and the tuple `MachineLease.offer` takes, the mirrors of IMachineLease's `Unit` and `Status`,
and the balance identities (`Balances`). Amounts are integers in token base units; usage counters are integers in
milli-units of the tariff unit (`UNIT_SCALE` ticks = one priced unit).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from typing import Any

from ground.errors import FedpmError
from ground.ids import from_bytes32, to_bytes32

UNIT_SCALE = 1000  # mirrors MachineLease.UNIT_SCALE (a test checks they agree)


class TariffError(FedpmError):
    """A tariff or billing document is malformed."""


class Unit(enum.IntEnum):
    """Mirrors IMachineLease.Unit (tests/test_enum_mirrors.py checks they agree). JSON names follow KOSMoS style."""

    OPERATING_HOUR = 0
    PART = 1
    KWH = 2

    @property
    def json_name(self) -> str:
        return {Unit.OPERATING_HOUR: "operatingHour", Unit.PART: "part", Unit.KWH: "kWh"}[self]

    @classmethod
    def parse(cls, text: str) -> "Unit":
        names = {u.json_name.lower(): u for u in cls} | {u.name.lower(): u for u in cls} | {"hour": cls.OPERATING_HOUR, "h": cls.OPERATING_HOUR}
        try:
            return names[text.strip().lower()]
        except KeyError:
            raise TariffError(f"unknown usage unit {text!r}", hint="use operatingHour, part or kWh") from None


class LeaseStatus(enum.IntEnum):
    """Mirrors IMachineLease.Status (tests/test_enum_mirrors.py checks they agree): a lease's life on chain."""

    NONE = 0
    OFFERED = 1
    ACTIVE = 2
    PAUSED = 3
    CLOSING = 4
    CLOSED = 5
    CANCELLED = 6

    @property
    def solidity_name(self) -> str:
        """The name statements, the CLI and the explorer show ("Closing")."""
        return self.name.capitalize()


def _int(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TariffError(f"field {key!r} must be an integer, got {value!r}", hint="amounts are integers in token base units")
    try:
        number = int(value)
    except ValueError:
        raise TariffError(f"field {key!r} must be an integer, got {value!r}", hint="amounts are integers in token base units") from None
    if number < 0:
        raise TariffError(f"field {key!r} must not be negative", hint="use 0 or a positive integer")
    return number


@dataclass(frozen=True)
class Tariff:
    tariff_id: str
    unit: Unit
    unit_price: int  # token base units per whole unit
    valid_until: int  # unix seconds: end of the lease term
    min_deposit: int = 0
    cap: int = 0  # 0: no cap
    cap_period: int = 0  # seconds; 0: the cap applies to the whole lease
    currency: str = "FCT"  # the settlement token (symbol or address)
    valid_from: int = 0  # informative: the term starts when the lease is accepted

    def __post_init__(self) -> None:
        if self.unit_price <= 0:
            raise TariffError("unit price must be positive", hint="give --price in token base units per unit")
        if self.cap_period and not self.cap:
            raise TariffError("a cap period needs a cap amount", hint="give --cap too, or drop --cap-period")
        to_bytes32(self.tariff_id)

    def to_chain(self) -> tuple:
        return (to_bytes32(self.tariff_id), int(self.unit), self.unit_price, self.min_deposit, self.cap, self.cap_period, self.valid_until)

    @classmethod
    def from_chain(cls, value: Any, currency: str = "FCT") -> "Tariff":
        tid, unit, price, min_dep, cap, cap_period, until = value
        return cls(from_bytes32(tid), Unit(unit), price, until, min_dep, cap, cap_period, currency)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "tariffId": self.tariff_id,
            "unit": self.unit.json_name,
            "unitPrice": self.unit_price,
            "currency": self.currency,
            "minimumDeposit": self.min_deposit,
            "cap": {"amount": self.cap, "period": self.cap_period} if self.cap else None,
            "validity": {"from": self.valid_from, "until": self.valid_until},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=True)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "Tariff":
        if not isinstance(data, dict) or "tariffId" not in data or "unit" not in data:
            raise TariffError("tariff JSON needs at least tariffId, unit, unitPrice and validity.until", hint="see fedpm/lease/tariff.py")
        cap = data.get("cap") or {}
        validity = data.get("validity") or {}
        return cls(
            tariff_id=str(data["tariffId"]), unit=Unit.parse(str(data["unit"])), unit_price=_int(data, "unitPrice"),
            valid_until=_int(validity, "until"), min_deposit=_int(data, "minimumDeposit", 0), cap=_int(cap, "amount", 0),
            cap_period=_int(cap, "period", 0), currency=str(data.get("currency", "FCT")), valid_from=_int(validity, "from", 0))

    @classmethod
    def from_json(cls, text: str) -> "Tariff":
        try:
            return cls.from_json_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise TariffError(f"tariff is not JSON: {exc}", hint="check the file") from None


@dataclass(frozen=True)
class BillingPeriod:
    """One billed reading interval (KOSMoS billing: period, usage, amount)."""

    lease_id: int
    tariff_id: str
    period_from: int
    period_until: int
    unit: Unit
    usage: int  # milli-units
    amount: int  # charged from the deposit
    waived: int = 0  # above the cap
    unpaid: int = 0  # deposit ran out
    currency: str = "FCT"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "leaseId": self.lease_id, "tariffId": self.tariff_id,
            "period": {"from": self.period_from, "until": self.period_until},
            "usage": {"unit": self.unit.json_name, "quantity": self.usage / UNIT_SCALE, "milli": self.usage},
            "amount": self.amount, "waived": self.waived, "unpaid": self.unpaid, "currency": self.currency,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "BillingPeriod":
        try:
            return cls(int(data["leaseId"]), str(data["tariffId"]), int(data["period"]["from"]), int(data["period"]["until"]),
                       Unit.parse(data["usage"]["unit"]), int(data["usage"]["milli"]), int(data["amount"]), int(data.get("waived", 0)),
                       int(data.get("unpaid", 0)), str(data.get("currency", "FCT")))
        except (KeyError, TypeError, ValueError) as exc:
            raise TariffError(f"billing record is malformed: {exc!r}", hint="see fedpm/lease/tariff.py") from None


def fmt_amount(value: int, decimals: int = 18) -> str:
    """Token base units as a decimal string: 2500000000000000000 -> "2.5"."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    whole, frac = divmod(value, 10**decimals)
    return sign + f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")


def format_tokens(value: int, currency: str = "FCT") -> str:
    """Token base units as users read them: 1000000000000000000000 -> "1000 FCT" (18 decimals)."""
    return f"{fmt_amount(value)} {currency}"


def fmt_time(ts: int) -> str:
    """Unix seconds as ISO-8601 UTC, as statements print them."""
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


class Balances:
    """The lease's money identities, shared by the contract's live state and the invoice rebuilt from events.
    Mixed into dataclasses that carry `deposited`, `charged`, `withdrawn` and `refunded` (token base units)."""

    deposited: int
    charged: int
    withdrawn: int
    refunded: int

    @property
    def available(self) -> int:
        """Deposit not yet charged or refunded."""
        return self.deposited - self.charged - self.refunded

    @property
    def held(self) -> int:
        """Tokens the contract holds for this lease."""
        return self.deposited - self.withdrawn - self.refunded
