"""Pure lease logic: tariff JSON, EIP-712 usage reports, the invoice fold, the explorer HTML."""

from __future__ import annotations

import dataclasses
import json

import pytest
from eth_account import Account
from eth_utils import keccak

from ground.ids import to_bytes32
from fedpm.lease.invoice import Invoice, InvoiceError, LeaseEvent, Line, Reconciliation, build_invoice, decode_event, format_invoice, invoice_json
from fedpm.lease.tariff import Balances, BillingPeriod, LeaseStatus, Tariff, TariffError, Unit, fmt_amount, fmt_time, format_tokens
from fedpm.lease.usage import SignedReport, UsageReport, UsageReportError, digest, sign_report, verify
from ground.ids import to_bytes32

LEASE = "0x" + "11" * 20
DEVICE = Account.from_key(keccak(text="unit-device"))


def test_tariff_json_roundtrip_in_kosmos_shape():
    t = Tariff("t-1", Unit.KWH, 5, 2_000_000_000, min_deposit=100, cap=50, cap_period=86400)
    data = json.loads(t.to_json())
    assert data["unit"] == "kWh" and data["cap"] == {"amount": 50, "period": 86400} and data["validity"]["until"] == 2_000_000_000
    assert Tariff.from_json(t.to_json()) == t
    assert Tariff.from_chain(t.to_chain()) == t


@pytest.mark.parametrize("doc", ['{"tariffId": "x", "unit": "litre", "unitPrice": 1, "validity": {"until": 1}}',
                                 '{"tariffId": "x", "unit": "part", "unitPrice": -1, "validity": {"until": 1}}',
                                 '{"tariffId": "x", "unit": "part", "unitPrice": 0, "validity": {"until": 1}}', "not json", "[]"])
def test_bad_tariffs_are_rejected_with_a_hint(doc):
    with pytest.raises(TariffError) as err:
        Tariff.from_json(doc)
    assert err.value.hint


def test_billing_period_roundtrip():
    b = BillingPeriod(1, "t", 10, 20, Unit.PART, 3000, 30, 1, 2)
    assert BillingPeriod.from_json_dict(b.to_json_dict()) == b
    assert b.to_json_dict()["usage"]["quantity"] == 3.0


def test_signed_report_verifies_and_tampering_is_detected():
    signed = sign_report(DEVICE, UsageReport(1, "m-1", 1500, 1_700_000_000), 31337, LEASE)
    again = SignedReport.from_json(signed.to_json())
    assert verify(again, chain_id=31337, contract=LEASE) == DEVICE.address

    forged = SignedReport(UsageReport(1, "m-1", 1, 1_700_000_000), again.signature, again.device, 31337, again.contract)
    with pytest.raises(UsageReportError):
        verify(forged)
    with pytest.raises(UsageReportError):
        verify(again, chain_id=1)
    assert digest(signed.report, 31337, LEASE) != digest(signed.report, 31337, "0x" + "22" * 20)


def _ev(name, block, **args):
    return LeaseEvent(name, block, 0, "0x", {"leaseId": 1, **args})


def _events():
    tariff = (to_bytes32("t-1"), 0, 2 * 10**18, 0, 0, 0, 2_000_000_000)
    return [
        _ev("LeaseOffered", 1, machineId=to_bytes32("m-1"), ownerOrg=to_bytes32("maker"), owner="0xO", tariff=tariff),
        _ev("LeaseAccepted", 2, lesseeOrg=to_bytes32("f-1"), lessee="0xL", deposit=10 * 10**18, openingCounter=0, openingReadAt=5),
        _ev("UsageCharged", 3, device="0xD", counter=7000, usage=7000, fromReadAt=5, readAt=9, amount=10 * 10**18, waived=0, unpaid=4 * 10**18),
        _ev("LeasePaused", 3, unpaid=4 * 10**18),
        _ev("ToppedUp", 4, **{"from": "0xL"}, amount=6 * 10**18, settled=4 * 10**18),
        _ev("LeaseResumed", 4),
        _ev("EarningsWithdrawn", 5, to="0xO", amount=14 * 10**18),
    ]


def test_invoice_folds_events_into_balances():
    inv = build_invoice(1, reversed(_events()))  # order restored by block
    assert (inv.deposited, inv.charged, inv.unpaid, inv.withdrawn, inv.available, inv.held) == (16e18, 14e18, 0, 14e18, 2e18, 2e18)
    assert inv.status == LeaseStatus.ACTIVE and inv.lessee_org == "f-1" and len(inv.periods) == 1
    assert "held by contract" in format_invoice(inv)
    assert json.loads(invoice_json(inv))["totals"]["held"] == 2 * 10**18


def test_invoice_needs_an_offer():
    with pytest.raises(InvoiceError):
        build_invoice(1, _events()[1:])


# --- tariff.py in detail (exact values, defaults, boundaries; kills its mutants: `make mutate-py`) ---

def test_units_mirror_the_contract_enum_and_parse_their_aliases():
    assert [(u.name, int(u), u.json_name) for u in Unit] == [("OPERATING_HOUR", 0, "operatingHour"), ("PART", 1, "part"), ("KWH", 2, "kWh")]
    assert [Unit.parse(t) for t in (" operatingHour ", "HOUR", "h", "Part", "kwh", "operating_hour")] == [
        Unit.OPERATING_HOUR, Unit.OPERATING_HOUR, Unit.OPERATING_HOUR, Unit.PART, Unit.KWH, Unit.OPERATING_HOUR]
    with pytest.raises(TariffError, match="unknown usage unit 'litre'"):
        Unit.parse("litre")


def test_tariff_defaults_and_exact_chain_and_json_shapes():
    t = Tariff("t-2", Unit.PART, 5, 100)
    assert t.to_chain() == (to_bytes32("t-2"), 1, 5, 0, 0, 0, 100) and t.currency == "FCT" and t.valid_from == 0
    assert t.to_json() == ('{"cap": null, "currency": "FCT", "minimumDeposit": 0, "tariffId": "t-2", "unit": "part", '
                           '"unitPrice": 5, "validity": {"from": 0, "until": 100}}')
    assert Tariff.from_json('{"tariffId": "t-2", "unit": "part", "unitPrice": "5", "validity": {"until": 100}}') == t
    assert Tariff.from_chain(t.to_chain(), currency="USDC") == Tariff("t-2", Unit.PART, 5, 100, currency="USDC")
    assert Tariff("t", Unit.PART, 1, 100).unit_price == 1  # the smallest positive price is allowed
    for price in (0, -1):
        with pytest.raises(TariffError, match="unit price must be positive"):
            Tariff("t", Unit.PART, price, 100)
    with pytest.raises(TariffError, match="a cap period needs a cap amount"):
        Tariff("t", Unit.PART, 1, 100, cap_period=60)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.unit_price = 6  # type: ignore[misc]
    assert len({t, Tariff("t-2", Unit.PART, 5, 100)}) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("unitPrice", True, "field 'unitPrice' must be an integer, got True"),
    ("unitPrice", 1.5, "field 'unitPrice' must be an integer, got 1.5"),
    ("unitPrice", "five", "field 'unitPrice' must be an integer, got 'five'"),
    ("minimumDeposit", -1, "field 'minimumDeposit' must not be negative"),
])
def test_tariff_integer_fields_name_the_field(field, value, message):
    doc = {"tariffId": "x", "unit": "part", "unitPrice": 1, "validity": {"until": 1}, field: value}
    with pytest.raises(TariffError) as err:
        Tariff.from_json_dict(doc)
    assert str(err.value).startswith(message) and err.value.hint


def test_tariff_json_zero_fields_and_missing_keys():
    doc = {"tariffId": "x", "unit": "part", "unitPrice": 1, "minimumDeposit": 0, "cap": {"amount": 4, "period": 0},
           "validity": {"from": 3, "until": 9}, "currency": "EUR"}
    assert Tariff.from_json_dict(doc) == Tariff("x", Unit.PART, 1, 9, min_deposit=0, cap=4, cap_period=0, currency="EUR", valid_from=3)
    for missing in ("tariffId", "unit"):
        with pytest.raises(TariffError, match="tariff JSON needs at least tariffId, unit"):
            Tariff.from_json_dict({k: v for k, v in doc.items() if k != missing})
    with pytest.raises(TariffError, match="field 'until' must be an integer, got None"):
        Tariff.from_json_dict({"tariffId": "x", "unit": "part", "unitPrice": 1})


def test_billing_period_exact_json_defaults_and_malformed_records():
    b = BillingPeriod(4, "t", 10, 20, Unit.KWH, 1500, 7)
    assert b.to_json_dict() == {"leaseId": 4, "tariffId": "t", "period": {"from": 10, "until": 20},
                                "usage": {"unit": "kWh", "quantity": 1.5, "milli": 1500},
                                "amount": 7, "waived": 0, "unpaid": 0, "currency": "FCT"}
    short = {k: v for k, v in b.to_json_dict().items() if k not in ("waived", "unpaid", "currency")}
    assert BillingPeriod.from_json_dict(short) == b
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.amount = 8  # type: ignore[misc]
    for bad, error in ((short | {"amount": "x"}, "ValueError"), (short | {"period": None}, "TypeError"),
                       ({k: v for k, v in short.items() if k != "amount"}, "KeyError")):
        with pytest.raises(TariffError, match=f"billing record is malformed: {error}"):
            BillingPeriod.from_json_dict(bad)


@pytest.mark.parametrize(("value", "kwargs", "text"), [
    (2_500_000_000_000_000_000, {}, "2.5"), (-2_500_000_000_000_000_000, {}, "-2.5"), (0, {}, "0"), (10**18, {}, "1"),
    (1, {}, "0.000000000000000001"), (-1, {}, "-0.000000000000000001"), (12_345, {"decimals": 3}, "12.345"),
    (120, {"decimals": 1}, "12"), (50, {"decimals": 0}, "50"),
])
def test_fmt_amount(value, kwargs, text):
    assert fmt_amount(value, **kwargs) == text


def test_fmt_time_is_utc_iso():
    assert fmt_time(0) == "1970-01-01 00:00:00Z" and fmt_time("1700000000") == "2023-11-14 22:13:20Z"


def test_balances_identities():
    @dataclasses.dataclass
    class Lease(Balances):
        deposited: int
        charged: int
        withdrawn: int
        refunded: int

    lease = Lease(deposited=100, charged=30, withdrawn=7, refunded=11)
    assert (lease.available, lease.held) == (59, 82)


# --- invoice.py in detail: the whole statement, exactly ---

def _ev7(name, block, log=0, **args):
    return LeaseEvent(name, block, log, f"0x{block:02x}{log:02x}", {"leaseId": 7, **args})


def _closed_lease_events():
    tariff = {"tariffId": to_bytes32("t-cap"), "unit": 1, "unitPrice": 3 * 10**17, "minDeposit": 10**18, "cap": 2 * 10**18,
              "capPeriod": 3600, "validUntil": 1_800_000_000}  # as web3 decodes a struct: by name
    return [
        _ev7("LeaseOffered", 1, machineId=to_bytes32("m-7"), ownerOrg="maker", owner="0xO", tariff=tariff),
        _ev7("LeaseAccepted", 2, lesseeOrg=to_bytes32("f-7"), lessee="0xL", deposit=3 * 10**18, openingCounter=500, openingReadAt=1_700_000_000),
        _ev7("UsageCharged", 3, 1, device="0xD", counter=3000, usage=2500, fromReadAt=1_700_000_000, readAt=1_700_003_600,
             amount=75 * 10**16, waived=0, unpaid=0),
        _ev7("UsageCharged", 3, 0, device="0xD", counter=500, usage=0, fromReadAt=1_700_000_000, readAt=1_700_000_000, amount=0, waived=0, unpaid=0),
        _ev7("UsageCharged", 4, device="0xD", counter=12500, usage=9500, fromReadAt=1_700_003_600, readAt=1_700_007_200,
             amount=225 * 10**16, waived=6 * 10**17, unpaid=0),
        _ev7("ToppedUp", 5, **{"from": "0xL"}, amount=10**18, settled=0),
        _ev7("EarningsWithdrawn", 6, to="0xO", amount=2 * 10**18),
        _ev7("LeaseClosing", 7, closedAt=1_700_010_000, disputeEndsAt=1_700_096_400),
        _ev7("Refunded", 8, to="0xL", amount=10**18),
        LeaseEvent("Refunded", 9, 0, "0x", {"leaseId": 8, "to": "0xX", "amount": 5}),  # another lease: ignored
    ]


CLOSED_STATEMENT = """\
Lease 7 — machine m-7 — Closed
  owner  maker (0xO)
  lessee f-7 (0xL)
  tariff t-cap: 0.3 FCT per part, min deposit 1, cap 2 per 3600s, until 2027-01-15 08:00:00Z
  billing periods:
    2023-11-14 22:13:20Z .. 2023-11-14 22:13:20Z         0 part                 0 FCT
    2023-11-14 22:13:20Z .. 2023-11-14 23:13:20Z       2.5 part              0.75 FCT
    2023-11-14 23:13:20Z .. 2023-11-15 00:13:20Z       9.5 part              2.25 FCT  waived 0.6
  statement:
    #1       offer             0  tariff t-cap: 0.3 FCT per part
    #2       accept            3  opening counter 500 at 2023-11-14 22:13:20Z
    #3       usage             0  0 part (counter 500)
    #3       usage          0.75  2.5 part (counter 3000)
    #4       usage          2.25  9.5 part (counter 12500), waived 600000000000000000
    #5       top-up            1  
    #6       withdrawal        2  to 0xO
    #7       closing           0  closed at 2023-11-15 01:00:00Z, refund from 2023-11-16 01:00:00Z
    #8       refund            1  to 0xL
  totals:
    deposited                  4 FCT
    charged                    3 FCT
    waived (cap)             0.6 FCT
    unpaid                     0 FCT
    withdrawn                  2 FCT
    refunded                   1 FCT
    available                  0 FCT
    earnings due               1 FCT
    held by contract           1 FCT"""


def test_closed_lease_statement_is_exact():
    inv = build_invoice(7, _closed_lease_events())
    assert (inv.status, inv.deposited, inv.charged, inv.waived, inv.unpaid, inv.withdrawn, inv.refunded, inv.usage) == (
        LeaseStatus.CLOSED, 4 * 10**18, 3 * 10**18, 6 * 10**17, 0, 2 * 10**18, 10**18, 12_000)
    assert (inv.available, inv.held, inv.earnings_due) == (0, 10**18, 10**18)
    assert [(p.period_from, p.usage, p.amount, p.waived, p.tariff_id, p.unit) for p in inv.periods] == [
        (1_700_000_000, 0, 0, 0, "t-cap", Unit.PART), (1_700_000_000, 2500, 75 * 10**16, 0, "t-cap", Unit.PART),
        (1_700_003_600, 9500, 225 * 10**16, 6 * 10**17, "t-cap", Unit.PART)]
    assert [line.tx for line in inv.lines][2:4] == ["0x0300", "0x0301"]  # same block: ordered by log index
    assert format_invoice(inv) == CLOSED_STATEMENT


def test_invoice_json_is_sorted_indented_and_complete():
    inv = build_invoice(7, _closed_lease_events())
    text = invoice_json(inv)
    assert text.startswith('{\n  "billing": [\n    {\n      "amount": 0,\n')
    data = json.loads(text)
    assert data["totals"] == {"deposited": 4 * 10**18, "charged": 3 * 10**18, "waived": 6 * 10**17, "unpaid": 0, "withdrawn": 2 * 10**18,
                              "refunded": 10**18, "available": 0, "held": 10**18, "earningsDue": 10**18, "usageMilli": 12_000}
    assert data["tariff"]["cap"] == {"amount": 2 * 10**18, "period": 3600} and data["lessee"] == {"org": "f-7", "account": "0xL"}
    assert data["lines"][0] == {"kind": "offer", "block": 1, "tx": "0x0100", "amount": 0, "detail": "tariff t-cap: 0.3 FCT per part"}
    assert Invoice(3).to_json_dict()["tariff"] is None


def test_paused_lease_settles_unpaid_on_top_up_and_resumes():
    inv = build_invoice(1, _events())
    assert [(line.kind, line.amount, line.detail) for line in inv.lines][2:] == [
        ("usage", 10 * 10**18, "7 operatingHour (counter 7000), unpaid 4000000000000000000"),
        ("pause", 4 * 10**18, "deposit used up; usage accrues as unpaid"),
        ("top-up", 6 * 10**18, "settled unpaid 4000000000000000000"), ("resume", 0, ""), ("withdrawal", 14 * 10**18, "to 0xO")]
    assert "    1970-01-01 00:00:05Z .. 1970-01-01 00:00:09Z         7 operatingHour       10 FCT  unpaid 4\n" in format_invoice(inv)
    paused = build_invoice(1, _events()[:4])
    assert (paused.status, paused.unpaid) == (LeaseStatus.PAUSED, 4 * 10**18)


def test_cancelled_offer_and_a_total_cap():
    offer = _ev("LeaseOffered", 1, machineId=to_bytes32("m-2"), ownerOrg=to_bytes32("maker"), owner="0xO",
                tariff=(to_bytes32("t-2"), 2, 10**18, 0, 5 * 10**18, 0, 1_800_000_000))
    inv = build_invoice(1, [offer, _ev("OfferCancelled", 2)])
    assert inv.status == LeaseStatus.CANCELLED and [line.kind for line in inv.lines] == ["offer", "cancel"]
    text = format_invoice(inv)
    assert "  lessee - (-)\n" in text and ", cap 5 total, until" in text and "    (no usage)\n" in text
    offered = build_invoice(1, [offer])
    assert offered.status == LeaseStatus.OFFERED and offered.tariff == Tariff("t-2", Unit.KWH, 10**18, 1_800_000_000, cap=5 * 10**18)


@pytest.mark.parametrize("events", [[], [_ev("LeaseAccepted", 1, lesseeOrg="f", lessee="0xL", deposit=1, openingCounter=0, openingReadAt=0)],
                                    [LeaseEvent("LeaseOffered", 1, 0, "0x", {"leaseId": 2})]])
def test_invoice_without_an_offer_of_that_lease_is_refused(events):
    with pytest.raises(InvoiceError, match="no offer found for lease 1") as err:
        build_invoice(1, events)
    assert "--lease" in err.value.hint


def test_events_are_decoded_to_plain_values():
    from hexbytes import HexBytes
    from web3.datastructures import AttributeDict

    log = AttributeDict({"args": AttributeDict({"leaseId": 3, "tariff": [b"x", AttributeDict({"a": (1, 2)})]}),
                         "blockNumber": 12, "logIndex": 4, "transactionHash": HexBytes("0xab")})
    assert decode_event("ToppedUp", log) == LeaseEvent("ToppedUp", 12, 4, "0xab", {"leaseId": 3, "tariff": (b"x", {"a": (1, 2)})})


@pytest.mark.parametrize(("held", "available", "ok"), [((5, 5), (2, 2), True), ((5, 4), (2, 2), False), ((5, 5), (2, 3), False)])
def test_reconciliation_needs_both_balances_to_agree(held, available, ok):
    assert Reconciliation(held[0], held[1], available[0], available[1]).ok is ok


def test_statement_of_a_bare_invoice_and_of_another_currency():
    text = format_invoice(Invoice(3))
    assert text.splitlines()[:3] == ["Lease 3 — machine  — Unknown", "  owner   ()", "  lessee - (-)"]
    assert "    (no usage)" in text and "    held by contract           0 FCT" in text
    eur = format_invoice(Invoice(3, tariff=Tariff("t", Unit.KWH, 10**18, 0, currency="EUR"), deposited=10**18))
    assert "  tariff t: 1 EUR per kWh, min deposit 0, until 1970-01-01 00:00:00Z" in eur and "    deposited                  1 EUR" in eur


def test_events_lines_and_reconciliations_are_immutable_values():
    for value, field in ((_ev("LeaseResumed", 1), "block"), (Line("pause", 1, "0x"), "amount"), (Reconciliation(1, 1, 0, 0), "contract_held")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 2)


def test_format_tokens_reads_base_units_as_fct():
    assert format_tokens(1000 * 10**18) == "1000 FCT"
    assert format_tokens(25 * 10**17) == "2.5 FCT"
    assert format_tokens(1) == "0.000000000000000001 FCT"
    assert format_tokens(0) == "0 FCT"
