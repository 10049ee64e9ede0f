"""`fedpm device` as a user runs it (keystores, names, one-line errors) against the real anvil: the manufacturer binds,
rotates and attests; an operator is refused; a change during a lease waits for the lessee's `approve`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.keystore import Keystore
from fedpm.cli import main
from tests.conftest import TEST_PASSWORD, dev_key
from tests.test_lease_helpers import LESSEE, MACHINE, OWNER, leasing  # noqa: F401

ENV = {"FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_KEYS_SCRYPT_N": str(2**10), "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"}


@pytest.fixture
def fedpm(leasing, capsys, monkeypatch):
    """`fedpm ...` in-process through `main` (exit code, stdout, stderr), with keystores for the orgs and two devices."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    ctx = leasing.ctx
    ks = Keystore(ctx.settings.keystore_dir, ctx.settings.keys)
    accounts = {"maker": leasing.c.accounts[OWNER], "factory-1": leasing.c.accounts[LESSEE], "factory-2": leasing.c.accounts["factory-2"],
                "press-key": dev_key("cli-press-key"), "press-key-2": dev_key("cli-press-key-2")}
    for name, account in accounts.items():
        if name not in ks.names():
            ks.create(name, account.key)
    base = ["--home", str(ctx.settings.home), "--rpc-url", ctx.w3.provider.endpoint_uri]

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(base + list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_the_manufacturer_binds_rotates_and_attests_and_the_operator_is_refused(leasing, fedpm, tmp_path: Path):
    leasing.c.registry.register_machine(leasing.c.sender("factory-2"), "press-9", "maker")
    att = tmp_path / "press-key.attestation.json"

    refused = fedpm("device", "register", "--as", "factory-2", "press-key", "--machine", "press-9")
    bound = fedpm("device", "register", "--as", "maker", "press-key", "--machine", "press-9", "--attestation-out", str(att))
    checked = fedpm("device", "verify-attestation", str(att))
    at = leasing.c.registry.now() + 3600
    rotated = fedpm("device", "rotate", "--as", "maker", "press-key-2", "--machine", "press-9", "--at", str(at))
    listed = fedpm("device", "list", "--machine", "press-9", "--json")
    shown = fedpm("device", "show", "press-key")

    assert refused[0] == 1 and refused[2].count("\n") == 1 and "NotManufacturer(machineId=press-9, account=" in refused[2]
    assert "manufacturer org" in refused[2]  # the hint
    assert bound[0] == 0 and "bound to press-9" in bound[1]
    assert checked[0] == 0 and "attested by" in checked[1] and "of maker (its manufacturer)" in checked[1]
    assert rotated[0] == 0 and f"signs for readings from {at}" in rotated[1]
    keys = json.loads(listed[1])["keys"]
    assert [(k["status"], k["validUntil"], k["rotatedIn"]) for k in keys] == [("active", at, False), ("scheduled", 0, True)]
    assert keys[0]["bound"]["by"] == leasing.c.accounts[OWNER].address
    assert shown[0] == 0 and "machine      press-9" in shown[1] and "bound by     maker" in shown[1]


def test_a_change_during_a_lease_waits_for_the_lessee_to_approve_it(leasing, fedpm):
    leasing.open()
    device = leasing.c.devices[MACHINE].address

    requested = fedpm("device", "revoke", "--as", "maker", device)
    waiting = fedpm("device", "list", "--machine", MACHINE)
    by_other = fedpm("device", "approve", "--as", "factory-2", "--machine", MACHINE)
    approved = fedpm("device", "approve", "--as", "factory-1", "--machine", MACHINE)
    again = fedpm("device", "approve", "--as", "factory-1", "--machine", MACHINE)

    assert requested[0] == 0 and "waits for the lessee's approval" in requested[1] and "fedpm device approve" in requested[1]
    assert f"waiting on {MACHINE}: revoke {device} (requested by maker" in waiting[1]
    assert by_other[0] == 1 and "NotMachineLessee" in by_other[2] and "fedpm device approve --as <lessee account>" in by_other[2]
    assert approved[0] == 0 and f"approved and applied on {MACHINE}: revoke {device}" in approved[1]
    assert again[0] == 1 and again[2].startswith("error: no device key change waits")
    assert leasing.c.registry.device(device).revoked


@pytest.mark.parametrize("args,expected", [
    (["device", "show", "0x" + "12" * 20], "was never bound to a machine (see `fedpm device list`"),
    (["device", "show", "0x12"], "is not an address (give a 0x address of 40 hex digits"),
    (["device", "register", "--as", "maker", "press-key", "--machine", "no-such-machine"], "machine 'no-such-machine' is not registered"),
    (["device", "approve", "--as", "factory-1", "--machine", MACHINE], "no device key change waits for factory-1-m1"),
])
def test_bad_input_is_one_line_naming_the_fix(fedpm, args, expected):
    code, _, err = fedpm(*args)

    assert code == 1 and err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_a_tampered_attestation_fails_in_one_line(leasing, fedpm, tmp_path: Path):
    good = tmp_path / "good.json"
    assert fedpm("device", "attest", "--as", "maker", leasing.c.devices[MACHINE].address, "--machine", MACHINE, "-o", str(good))[0] == 0
    data = json.loads(good.read_text())
    data["machineId"] = "factory-2-m1"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    forged = tmp_path / "by-operator.json"
    assert fedpm("device", "attest", "--as", "factory-1", leasing.c.devices[MACHINE].address, "--machine", MACHINE, "-o", str(forged))[0] == 0

    altered, by_operator = fedpm("device", "verify-attestation", str(bad)), fedpm("device", "verify-attestation", str(forged))

    assert altered[0] == 1 and "was signed by" in altered[2] and "fedpm device attest" in altered[2]
    assert by_operator[0] == 1 and "not of maker, the manufacturer of factory-1-m1" in by_operator[2]
