"""MaintenanceLog against a real anvil: who may append, the hash chain, duplicates, corrections, gas."""

from __future__ import annotations

import pytest

from ground.ids import to_bytes32
from chain.reverts import DuplicateRecord, InvalidRecordHash, NotMachineParty, UnknownCorrection, UnknownMachine, WrongPrevHash
from fedpm.maintenance.audit import ZERO_HASH
from fedpm.maintenance.client import MaintenanceLog
from fedpm.maintenance.records import Kind, Record, correction_of
from tests.conftest import dev_key

pytestmark = pytest.mark.usefixtures("snapshot")

MACHINE = "factory-1-m1"


def rec(n: int, machine: str = MACHINE, **kw: object) -> Record:
    base = dict(machine=machine, time=1_700_000_000 + n, kind=Kind.MAINTENANCE, component="spindle",
                description=f"job {n}", technician_org="factory-1", technician="tech-7")
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_solidity_kind_enum_matches_python(consortium):
    abi = consortium.ctx.artifacts["MaintenanceLog"].abi
    append = next(i for i in abi if i.get("name") == "append")

    kind_input = next(i for i in append["inputs"] if i["name"] == "kind")

    assert kind_input["internalType"] == "enum IMaintenanceLog.Kind"
    assert [k.value for k in Kind] == [0, 1, 2, 3]  # Fault, Maintenance, Inspection, PartReplacement


def test_operator_appends_and_entries_chain_to_their_predecessor(consortium):
    log = MaintenanceLog(consortium.ctx)
    op = consortium.sender("factory-1")
    first, second = rec(1), rec(2, kind=Kind.INSPECTION)

    r1, i1 = log.append(op, first)
    r2, i2 = log.append(op, second)

    entries = log.entries(MACHINE)
    assert (i1, i2) == (0, 1)
    assert [e.record_hash for e in entries] == [first.hash, second.hash]
    assert [e.prev_hash for e in entries] == [ZERO_HASH, first.hash]
    assert entries[1].kind is Kind.INSPECTION and entries[1].time == second.time
    assert entries[0].author == op.address and entries[0].author_org == "factory-1"
    assert (entries[0].tx_hash, entries[0].block) == (r1.tx_hash, r1.block_number)
    assert log.head(MACHINE) == second.hash


def test_manufacturer_may_append_to_a_machine_it_built(consortium):
    log = MaintenanceLog(consortium.ctx)

    log.append(consortium.sender("maker"), rec(1, technician_org="maker"))

    assert log.entries(MACHINE)[0].author_org == "maker"


def test_unknown_machine_is_rejected_with_named_error(consortium):
    log = MaintenanceLog(consortium.ctx)

    with pytest.raises(UnknownMachine) as err:
        log.append(consortium.sender("factory-1"), rec(1, machine="no-such-machine"))

    assert err.value.error_args["machineId"] == to_bytes32("no-such-machine")


@pytest.mark.parametrize("who", ["factory-2", "agg-1", "outsider"])
def test_author_who_is_neither_operator_nor_manufacturer_is_rejected(consortium, who):
    log = MaintenanceLog(consortium.ctx)
    sender = consortium.ctx.sender(dev_key(who)) if who == "outsider" else consortium.sender(who)

    with pytest.raises(NotMachineParty) as err:
        log.append(sender, rec(1))

    assert err.value.error_args["account"].lower() == sender.address.lower()
    assert log.count(MACHINE) == 0


def test_duplicate_submission_is_rejected(consortium):
    log = MaintenanceLog(consortium.ctx)
    op = consortium.sender("factory-1")
    record = rec(1)
    log.append(op, record)

    with pytest.raises(DuplicateRecord) as err:
        log.append(op, record)

    assert "0x" + err.value.error_args["recordHash"].hex() == record.hash
    assert log.count(MACHINE) == 1


def test_stale_prev_hash_is_rejected_so_concurrent_appends_cannot_fork(consortium):
    log = MaintenanceLog(consortium.ctx)
    op, maker = consortium.sender("factory-1"), consortium.sender("maker")
    head_seen_by_both = log.head(MACHINE)
    log.append(op, rec(1), prev_hash=head_seen_by_both)

    with pytest.raises(WrongPrevHash) as err:
        log.append(maker, rec(2, technician_org="maker"), prev_hash=head_seen_by_both)

    assert "0x" + err.value.error_args["head"].hex() == rec(1).hash
    assert log.count(MACHINE) == 1


def test_correction_must_name_an_entry_of_the_same_machine(consortium):
    log = MaintenanceLog(consortium.ctx)
    original = rec(1)
    other_machine = rec(1, machine="factory-2-m1", technician_org="factory-2")
    log.append(consortium.sender("factory-1"), original)
    log.append(consortium.sender("factory-2"), other_machine)

    with pytest.raises(UnknownCorrection):
        log.append(consortium.sender("factory-1"), rec(2, corrects=other_machine.hash))
    fix = correction_of(original, time=original.time + 60, description="job 1: torque was 40 Nm, not 45", technician="tech-7")
    log.append(consortium.sender("factory-1"), fix)

    assert [e.corrects for e in log.entries(MACHINE)] == [None, original.hash]


def test_zero_record_hash_is_rejected(consortium):
    log = MaintenanceLog(consortium.ctx)
    fn = log.contract.functions.append(to_bytes32(MACHINE), b"\0" * 32, b"\0" * 32, b"\0" * 32, 1, 1)

    with pytest.raises(InvalidRecordHash):
        consortium.sender("factory-1").transact(fn)


def test_gas_per_append_stays_bounded(consortium, capsys):
    log = MaintenanceLog(consortium.ctx)
    op = consortium.sender("factory-1")

    gas = [log.append(op, rec(n))[0].gas_used for n in range(4)]
    fix = correction_of(rec(0), time=1_700_000_100, description="fix", technician="tech-7")
    gas_correction = log.append(op, fix)[0].gas_used

    with capsys.disabled():
        print(f"\nMaintenanceLog.append gas: first={gas[0]} next={gas[1:]} correction={gas_correction}")
    assert gas[0] < 200_000 and max(gas[1:]) < 150_000 and gas_correction < 170_000


def test_demo_history_anchors_records_with_one_correction_and_audits_clean(consortium, tmp_path):
    from fedpm.maintenance.client import audit_machine
    from fedpm.maintenance.demo import record_demo_history
    from fedpm.maintenance.store import RecordStore, record_store_path
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)

    summary = record_demo_history(consortium, settings.home, ["factory-1-m1", "factory-3-m1"])

    entries = summary["machines"]["factory-3-m1"]["entries"]
    assert len(entries) == 4 and [e["corrects"] for e in entries].count(entries[1]["hash"]) == 1
    assert {e["author"] for e in entries} == {"factory-3", "maker"} and all(summary["gas"])
    with RecordStore(record_store_path(settings.home)) as store:
        assert audit_machine(MaintenanceLog(consortium.ctx), store, "factory-3-m1").ok
