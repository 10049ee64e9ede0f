"""Quality passports end to end on a real anvil, through the CLI: a part recorded by its machine's operator from the
device-signed batches covering its production and the audited maintenance history; its passport verifies, in the CLI
and as a file handed to the customer; an altered record, a batch that is not anchored, and an outsider's recording
fail with the element or revert they concern."""

from __future__ import annotations

import json

import pytest

from chain.reverts import NotPartRecorder, PartExists
from fedpm.maintenance.demo import record_demo_history
from fedpm.parts.client import PartRegistry
from fedpm.parts.records import BatchRef, PartRecord
from fedpm.parts.store import PartStore, part_store_path
from fedpm.sensors.client import SensorBatchRegistry
from fedpm.sensors.encoding import encode_frames
from fedpm.sensors.store import GatewayStore, gateway_store_path
from tests.conftest import make_settings
from tests.sensor_helpers import batch_of, fedpm, gateway_env, readings_t0, sign_blocks, store_anchored

pytestmark = pytest.mark.usefixtures("snapshot")
M1 = "factory-1-m1"
@pytest.fixture
def t0(consortium) -> int:
    """When the readings start: the device keys' binding, after the demo maintenance history (2025-01-01 on)."""
    return readings_t0(consortium)


@pytest.fixture
def plant(consortium, ctx, tmp_path, t0):
    """factory-1's home: the demo maintenance history of M1, and two anchored batches of M1's device over t0..t0+7 s."""
    home = tmp_path / "home"
    env = gateway_env(home, ctx, consortium, {"factory-1": consortium.accounts["factory-1"], "factory-2": consortium.accounts["factory-2"]})
    record_demo_history(consortium, home, [M1])
    registry = SensorBatchRegistry(consortium.ctx)
    store = GatewayStore(gateway_store_path(home), create=True)
    blocks = sign_blocks(consortium.devices[M1], M1, registry.signing_domain(), range(8), t0=t0)
    store_anchored(store, registry, consortium.sender("factory-1"), [blocks[:4], blocks[4:]])
    return env, home, store, blocks


def test_a_part_recorded_from_signed_data_gets_a_passport_that_verifies(plant, tmp_path, t0):
    env, home, _, blocks = plant
    args = ["--as", "factory-1", "--machine", M1, "--step", "milling", "--from", str(t0 + 500), "--to", str(t0 + 6_500)]

    rec = fedpm("part", "record", "P-0001", *args, "--json", env=env)
    show = fedpm("part", "show", "P-0001", "--json", env=env)
    ok = fedpm("part", "verify", "P-0001", env=env)
    passport_file = tmp_path / "P-0001.passport.json"
    made = fedpm("part", "passport", "P-0001", "-o", str(passport_file), env=env)
    handed = fedpm("part", "verify", "--passport", str(passport_file), "--json", env=env)

    assert rec.returncode == 0, rec.stderr
    out = json.loads(rec.stdout)
    assert out["batches"] == 2 and out["readings"] == 32 and out["maintenance"]["index"] == 3  # the demo history's latest entry
    shown = json.loads(show.stdout)
    assert shown["on_chain"]["record_hash"] == shown["record_hash"] == out["record_hash"] and shown["on_chain"]["machine"] == M1
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("VERIFIED") == 5 and "passport verified" in ok.stdout  # record, 2 batches, coverage, maintenance
    assert made.returncode == 0 and "16 signed blocks" not in made.stdout and "8 signed blocks" in made.stdout
    check = json.loads(handed.stdout)
    assert handed.returncode == 0 and check["ok"] and [e["element"] for e in check["elements"]][:1] == ["record"]

    # the customer's copy, altered: the step and a referenced root
    passport = json.loads(passport_file.read_text())
    passport["record"]["step"] = "grinding"
    passport_file.write_text(json.dumps(passport))
    altered = fedpm("part", "verify", "--passport", str(passport_file), env=env)
    assert altered.returncode == 2 and "fails at record: altered" in altered.stderr

    passport = json.loads(fedpm("part", "passport", "P-0001", "--json", env=env).stdout)
    raw = bytearray(bytes.fromhex(passport["batches"][1]["blocks"][2][2:]))
    raw[-66] ^= 1  # a value of block 6, signature kept
    passport["batches"][1]["blocks"][2] = "0x" + raw.hex()
    passport_file.write_text(json.dumps(passport))
    forged = fedpm("part", "verify", "--passport", str(passport_file), env=env)
    assert forged.returncode == 2 and "fails at batch 1" in forged.stderr and "block 2 (seq 6) is not signed by device" in forged.stderr


def test_a_part_over_data_that_is_not_anchored_is_refused_and_its_passport_fails_naming_the_batch(plant, consortium, t0):
    env, home, store, blocks = plant
    later = sign_blocks(consortium.devices[M1], M1, SensorBatchRegistry(consortium.ctx).signing_domain(), range(8, 12), t0=t0)
    store.persist_blocks(later)
    summary, leaves = batch_of(later)
    store.close_batch(summary, encode_frames(b.signed for b in later), b"".join(leaves), [r.id for r in store.inbox()], [b.seq for b in later])  # closed, never anchored

    refused = fedpm("part", "record", "P-0002", "--as", "factory-1", "--machine", M1, "--step", "milling", "--from", str(t0 + 8_000), "--to", str(t0 + 11_000), env=env)
    assert refused.returncode == 1 and "is unanchored" in refused.stderr and "fedpm verify batch" in refused.stderr

    # an operator that records it anyway (by hand, hash anchored on chain): the passport names the batch
    record = PartRecord("P-0002", M1, "milling", t0 + 8_000, t0 + 11_000, (BatchRef(summary, b"\x42" * 32),))
    with PartStore(part_store_path(home), create=True) as parts:
        parts.add(record)
    PartRegistry(consortium.ctx).record_part(consortium.sender("factory-1"), record.part, M1, record.hash)
    failed = fedpm("part", "verify", "P-0002", env=env)
    assert failed.returncode == 2, failed.stdout
    assert "fails at batch 0 (device" in failed.stderr and "not anchored" in failed.stderr


def test_only_the_operator_records_a_part_once_and_bad_input_is_named(plant, consortium, t0):
    env, home, _, _ = plant
    parts = PartRegistry(consortium.ctx)
    h = "0x" + "ab" * 32

    with pytest.raises(NotPartRecorder):
        parts.record_part(consortium.sender("factory-2"), "P-9", M1, h)  # factory-2 does not operate M1
    rcpt = parts.record_part(consortium.sender("factory-1"), "P-9", M1, h)
    with pytest.raises(PartExists):
        parts.record_part(consortium.sender("factory-1"), "P-9", M1, "0x" + "cd" * 32)
    assert parts.part("P-9").record_hash == h and rcpt.gas_used < 120_000
    outsider = fedpm("part", "record", "P-10", "--as", "factory-2", "--machine", M1, "--step", "s", "--from", str(t0), "--to", str(t0 + 1000), env=env)
    assert outsider.returncode == 1 and "NotPartRecorder" in outsider.stderr and "only the organization operating the machine" in outsider.stderr
    none = fedpm("part", "passport", "P-404", env=env)
    assert none.returncode == 1 and "no record of part P-404" in none.stderr and "fedpm part record" in none.stderr
    both = fedpm("part", "verify", env=env)
    assert both.returncode == 1 and "--passport FILE" in both.stderr
    empty = fedpm("part", "record", "P-11", "--as", "factory-1", "--machine", M1, "--step", "s", "--from", str(t0 + 99_000), "--to", str(t0 + 99_500), env=env)
    assert empty.returncode == 1 and "no sensor batch of factory-1-m1 covers" in empty.stderr


def test_the_demo_records_parts_of_the_simulated_machine_and_verifies_a_passport(plant, consortium, ctx):
    from fedpm.parts.demo import record_demo_parts

    env, home, _, _ = plant
    settings = make_settings(home, ctx.settings.chain.rpc_url, **{"chain.deployment_file": ctx.deployment_path})

    summary = record_demo_parts(consortium, settings, M1, parts=3)

    assert [p["part"] for p in summary["parts"]] == [f"{M1}-part-{k}" for k in (1, 2, 3)]
    assert summary["check"]["ok"] and summary["passport"]["record"]["part"] == f"{M1}-part-1" and "passport verified" in summary["report"]
    assert {p["batches"] for p in summary["parts"]} <= {1, 2}
    assert all(fedpm("part", "verify", p["part"], env=env).returncode == 0 for p in summary["parts"][1:])

    from tests.test_explorer_api import get
    from fedpm.explorer.server import start_explorer

    url, stop = start_explorer(settings, "127.0.0.1", 0)
    try:
        listed = json.loads(get(f"{url}/api/parts")[2])
        one = json.loads(get(f"{url}/api/parts/{M1}-part-2")[2])
        missing = get(f"{url}/api/parts/P-404")
    finally:
        stop()
    assert [p["part"] for p in listed["parts"]] == [p["part"] for p in summary["parts"]] and listed["parts"][0]["org"] == "factory-1"
    assert one["check"]["ok"] and one["record_hash"] == summary["parts"][1]["record_hash"] and one["recorded"]["tx"] == summary["parts"][1]["tx"]
    assert missing[0] == 404 and "no part 'P-404' is recorded on chain" in missing[2]
