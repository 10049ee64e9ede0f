"""`fedpm maintenance add|list|export|sync` and `fedpm audit maintenance` against a real anvil."""

from __future__ import annotations

import json
import sqlite3

import click
import pytest
from click.testing import CliRunner

from chain.keystore import Keystore
from chain.node import free_port
from fedpm.cli import cli as root
from fedpm.cli.maintenance import audit, explorer, maintenance
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.store import RecordStore, record_store_path
from ground.errors import FedpmError
from tests.conftest import TEST_PASSWORD, dev_key, make_settings

pytestmark = pytest.mark.usefixtures("snapshot")

MACHINE = "factory-1-m1"


@pytest.fixture
def fedpm(tmp_path, consortium, anvil, monkeypatch):
    """Run the CLI in-process like `fedpm.cli.main` does; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("FEDPM_KEYS_PASSWORD", TEST_PASSWORD)
    monkeypatch.setenv("FEDPM_KEYS_SCRYPT_N", str(2**10))
    monkeypatch.setenv("FEDPM_KEYS_ALLOW_WEAK_SCRYPT", "1")
    monkeypatch.setenv("FEDPM_CHAIN_DEPLOYMENT_FILE", str(consortium.ctx.deployment_path))
    settings = make_settings(tmp_path)
    for org in ("factory-1", "factory-2", "maker"):
        Keystore(settings.keystore_dir, settings.keys).create(org, dev_key(org).key)
    group = click.Group("fedpm", params=root.params, callback=root.callback, commands={"maintenance": maintenance, "audit": audit, "explorer": explorer})

    def run(*args: str, rpc: str | None = None) -> tuple[int, str, str]:
        runner = CliRunner(mix_stderr=False)
        with runner.isolation() as streams:
            out, err = streams[0], streams[1]
            try:
                group.main(args=["--home", str(tmp_path), "--rpc-url", rpc or anvil.url, *args], standalone_mode=False)
                code = 0
            except FedpmError as exc:
                click.echo(f"error: {exc}", err=True)
                code = exc.exit_code
            return code, out.getvalue().decode(), err.getvalue().decode()

    run.home = tmp_path  # type: ignore[attr-defined]
    return run


def add_args(n: int, *, machine: str = MACHINE, who: str = "factory-1", extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("maintenance", "add", "--as", who, "--machine", machine, "--kind", "maintenance", "--component", "spindle",
            "--description", f"job {n}", "--technician", "tech-7", "--time", str(1_700_000_000 + n), *extra)


def rows(home) -> list[dict]:
    with RecordStore(record_store_path(home)) as store:
        return [r.to_json() for r in store.records()]


def test_add_keeps_the_record_and_anchors_it(fedpm, consortium):
    code, out, err = fedpm(*add_args(1))

    assert code == 0, err
    [row] = rows(fedpm.home)
    assert row["status"] == "anchored" and row["chain_index"] == 0 and row["tx_hash"] in out
    assert row["record"]["technician_org"] == "factory-1"  # read from the chain for the signing account
    assert MaintenanceLog(consortium.ctx).head(MACHINE) == row["record_hash"]


def test_record_survives_an_unreachable_chain_and_is_resubmitted_first_by_the_next_add(fedpm):
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = fedpm(*add_args(1, extra=("--technician-org", "factory-1")), rpc=dead)
    assert code == 1 and "pending" in err
    assert [r["status"] for r in rows(fedpm.home)] == ["pending"]

    code, out, err = fedpm(*add_args(2))

    assert code == 0, err
    stored = rows(fedpm.home)
    assert [(r["status"], r["chain_index"]) for r in stored] == [("anchored", 0), ("anchored", 1)]
    code, out, _ = fedpm("audit", "maintenance", "--machine", MACHINE, "--json")
    assert code == 0 and json.loads(out)["counts"]["verified"] == 2


def test_sync_resubmits_pending_records(fedpm):
    fedpm(*add_args(1, extra=("--technician-org", "factory-1")), rpc=f"http://127.0.0.1:{free_port()}")

    code, out, err = fedpm("maintenance", "sync", "--as", "factory-1")

    assert code == 0, err
    assert "anchored at position 0" in out and rows(fedpm.home)[0]["status"] == "anchored"


def test_unknown_machine_is_refused_by_name_and_kept_as_rejected(fedpm):
    code, _, err = fedpm(*add_args(1, machine="ghost-m9", extra=("--technician-org", "factory-1")))

    assert code == 1 and "UnknownMachine" in err and "fedpm machine register" in err
    assert [r["status"] for r in rows(fedpm.home)] == ["rejected"]


def test_author_of_another_org_is_refused_by_name(fedpm):
    code, _, err = fedpm(*add_args(1, who="factory-2"))

    assert code == 1 and "NotMachineParty" in err
    assert rows(fedpm.home)[0]["status"] == "rejected"


def test_same_record_twice_is_refused_locally(fedpm):
    fedpm(*add_args(1))

    code, _, err = fedpm(*add_args(1))

    assert code == 1 and "already in the local store" in err and len(rows(fedpm.home)) == 1


def test_list_and_export_show_the_records(fedpm, tmp_path):
    fedpm(*add_args(1))
    fedpm(*add_args(2, who="maker", extra=("--kind", "inspection")))

    _, listing, _ = fedpm("maintenance", "list", "--machine", MACHINE)
    code, _, _ = fedpm("maintenance", "export", "--machine", MACHINE, "--out", str(tmp_path / "export.json"))

    doc = json.loads((tmp_path / "export.json").read_text())
    assert code == 0 and listing.count("anchored") == 2 and "inspection" in listing
    assert [r["record"]["technician_org"] for r in doc["records"]] == ["factory-1", "maker"]


def _tamper(home, sql: str, *args: object) -> None:
    with sqlite3.connect(record_store_path(home)) as db:
        db.execute(sql, args)


@pytest.fixture
def three_anchored(fedpm):
    for n in range(3):
        assert fedpm(*add_args(n))[0] == 0
    return fedpm


def test_audit_of_an_untouched_history_passes(three_anchored):
    code, out, _ = three_anchored("audit", "maintenance", "--machine", MACHINE)

    assert code == 0 and out.count("  verified  ") == 3 and out.rstrip().endswith("OK (3 verified)")


def test_audit_finds_an_edited_local_record(three_anchored):
    row = rows(three_anchored.home)[1]
    edited = json.dumps(row["record"] | {"description": "job 1: nothing found"})
    _tamper(three_anchored.home, "UPDATE records SET canonical = ? WHERE seq = ?", edited, row["seq"])

    code, out, err = three_anchored("audit", "maintenance", "--machine", MACHINE, "--json")

    report = json.loads(out)
    assert code == 2 and "discrepancies" in err
    assert [i["status"] for i in report["items"]] == ["verified", "altered", "verified"]


def test_audit_finds_a_deleted_local_record(three_anchored):
    _tamper(three_anchored.home, "DELETE FROM records WHERE seq = ?", rows(three_anchored.home)[0]["seq"])

    code, out, _ = three_anchored("audit", "maintenance", "--machine", MACHINE)

    assert code == 2 and out.count("  missing locally  ") == 1 and out.count("  verified  ") == 2 and "DISCREPANCIES" in out


def test_audit_finds_reordered_local_records(three_anchored):
    a, b = rows(three_anchored.home)[:2]
    for src, dst in ((a, b), (b, a)):  # swap content and hashes of the first two rows
        _tamper(three_anchored.home, "UPDATE records SET canonical = ?, record_hash = ? WHERE seq = ?",
                json.dumps(src["record"]), src["record_hash"] + ("x" if dst is b else ""), dst["seq"])

    code, out, _ = three_anchored("audit", "maintenance", "--machine", MACHINE, "--json")

    statuses = [i["status"] for i in json.loads(out)["items"]]
    assert code == 2 and statuses.count("out of order") == 1 and statuses.count("verified") == 2
