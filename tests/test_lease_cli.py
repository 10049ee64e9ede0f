"""`fedpm lease` end to end through the CLI (keystore signing) and the demo hook, against the real anvil."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chain.keystore import Keystore
from fedpm.cli import cli
from fedpm.cli.consortium import consortium as consortium_group
from fedpm.cli.lease import lease as lease_group
from fedpm.lease.client import MachineLease
from fedpm.lease.tariff import LeaseStatus
from fedpm.lease.demo import format_lease_demo, run_lease_demo
from tests.conftest import advance_time
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, UNIT, Leasing, leasing  # noqa: F401


@pytest.fixture
def run_cli(leasing, tmp_path):
    home = leasing.ctx.settings.home
    ks = Keystore(leasing.ctx.settings.keystore_dir, leasing.ctx.settings.keys)
    for name, account in [("gov-a", leasing.c.accounts["gov-a"]), ("gov-b", leasing.c.accounts["gov-b"]), ("maker", leasing.c.accounts[OWNER]), ("factory-1", leasing.c.accounts[LESSEE]),
                          ("device-1", leasing.c.devices[MACHINE])]:
        if name not in ks.names():
            ks.create(name, account.key)
    for group in (lease_group, consortium_group):
        if group.name not in cli.commands:
            cli.add_command(group)
    runner = CliRunner()
    base = ["--home", str(home), "--rpc-url", leasing.ctx.w3.provider.endpoint_uri]

    def run(*args: str, group: str = "lease") -> str:
        result = runner.invoke(cli, base + [group, *args], env={"FEDPM_KEYS_PASSWORD": "test-password", "FEDPM_KEYS_SCRYPT_N": str(2**10), "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_cli_lease_from_offer_to_invoice(leasing, run_cli, tmp_path):
    pid = run_cli("mint", "--as", "gov-a", "--to", "factory-1", "--amount", "30").split()[1].rstrip(":")
    assert leasing.balance(LESSEE) == 0  # proposed, not minted: supply changes only when k-of-n execute it
    run_cli("approve", "--as", "gov-b", pid, group="consortium")
    run_cli("execute", "--as", "gov-a", pid, group="consortium")
    assert leasing.balance(LESSEE) == 30 * UNIT
    out = run_cli("offer", "--as", "maker", "--machine", MACHINE, "--price", "2", "--min-deposit", "10")
    lease_id = int(out.split()[1])
    run_cli("accept", "--as", "factory-1", "--lease", str(lease_id), "--deposit", "20", "--device", "device-1", "--counter", "100")
    advance_time(leasing.ctx, 5)
    report = tmp_path / "r.json"
    run_cli("sign-usage", "--device", "device-1", "--lease", str(lease_id), "--counter", "103.5", "--out", str(report),
            "--read-at", str(leasing.ctx.w3.eth.get_block("latest")["timestamp"]))
    run_cli("report-usage", "--as", "gov-a", "--lease", str(lease_id), "--report", str(report))
    run_cli("top-up", "--as", "factory-1", "--lease", str(lease_id), "--amount", "5")
    assert "withdrew 7 FCT" in run_cli("withdraw", "--as", "maker", "--lease", str(lease_id))
    advance_time(leasing.ctx, 5)
    run_cli("close", "--as", "factory-1", "--lease", str(lease_id), "--device", "device-1", "--counter", "104")

    statement = json.loads(run_cli("invoice", "--lease", str(lease_id), "--json"))
    text = run_cli("invoice", "--lease", str(lease_id))

    assert statement["reconciled"] is True
    assert statement["totals"]["charged"] == 8 * UNIT and statement["totals"]["deposited"] == 25 * UNIT
    assert statement["totals"]["held"] == leasing.balance(leasing.lease.address) == 18 * UNIT
    assert [b["usage"]["milli"] for b in statement["billing"]] == [3500, 500]
    assert "reconciled with contract: yes" in text


def test_cli_rejects_a_report_for_another_lease(leasing, run_cli, tmp_path):
    lease_id = leasing.open()
    signed = leasing.sign(lease_id + 1, 1000)
    path = tmp_path / "other.json"
    path.write_text(signed.to_json())
    from fedpm.cli import main

    code = main(["--home", str(leasing.ctx.settings.home), "--rpc-url", leasing.ctx.w3.provider.endpoint_uri, "lease", "report-usage", "--as", "gov-a",
                 "--lease", str(lease_id), "--report", str(path)])
    assert code == 1
    assert leasing.state(lease_id).charged == 0


def test_demo_runs_one_lease_from_offer_to_refund_on_anvil(consortium, snapshot):
    summary = run_lease_demo(consortium, consortium.ctx.settings)

    assert summary.refund_claimed and summary.reconciled
    assert summary.invoice.status == LeaseStatus.CLOSED
    assert summary.invoice.charged == 2 * UNIT * 4.5  # 1.5 + 2 + 0.75 + 0.25 hours at 2 tokens
    assert "Lease" in format_lease_demo(summary)
    assert MachineLease(consortium.ctx).lease(summary.lease_id).refunded == summary.invoice.refunded
