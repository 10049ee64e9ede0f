"""Pure lease logic: tariff JSON, EIP-712 usage reports, the invoice fold, the explorer HTML."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_utils import keccak

from fedpm.lease.invoice import InvoiceError, LeaseEvent, build_invoice, format_invoice, invoice_json
from fedpm.lease.tariff import BillingPeriod, Tariff, TariffError, Unit
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
    assert inv.status == "Active" and inv.lessee_org == "f-1" and len(inv.periods) == 1
    assert "held by contract" in format_invoice(inv)
    assert json.loads(invoice_json(inv))["totals"]["held"] == 2 * 10**18


def test_invoice_needs_an_offer():
    with pytest.raises(InvoiceError):
        build_invoice(1, _events()[1:])
