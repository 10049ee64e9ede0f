"""What a user sees, run as they run it (real processes against a chain started by `fedpm chain up`): when a command
cannot do what they asked, one line `error: <what> (<fix>)` and a non-zero exit, never a traceback; and the read
commands (status, machine show, lease list, token balance), as tables and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.test_cli_consortium import chain_home, fedpm  # noqa: F401 - chain_home is a fixture

TOO_BIG = str(2**256)

BAD_IDS = [
    (["task", "show", "--task", "99"], "UnknownTask(taskId=99)"),
    (["task", "show", "--task", "-1"], "-1"),
    (["task", "show", "--task", TOO_BIG], TOO_BIG),
    (["round", "status", "--task", "99"], "UnknownTask(taskId=99)"),
    (["round", "status", "--task", "-1"], "-1"),
    (["round", "open", "--as", "g1", "--task", "99"], "UnknownTask(taskId=99)"),
    (["node", "aggregate", "--as", "g1", "--task", "99", "--once"], "UnknownTask(taskId=99)"),
    (["lease", "invoice", "--lease", "99"], "lease 99"),
    (["lease", "invoice", "--lease", "-1"], "-1"),
    (["lease", "top-up", "--as", "f1", "--lease", "99", "--amount", "1"], "99"),
    (["lease", "sign-usage", "--device", "dev1", "--lease", "99", "--counter", "1"], "99"),
    (["consortium", "approve", "--as", "g2", "99"], "UnknownProposal(proposalId=99)"),
    (["consortium", "approve", "--as", "g2", "--", "-1"], "-1"),
    (["consortium", "execute", "--as", "g2", "99"], "UnknownProposal(proposalId=99)"),
    (["model", "list", "--task", "99"], "99"),
    (["model", "show", "--task", "0", "--round", "-1"], "-1"),
    (["audit", "lineage", "--task", TOO_BIG], TOO_BIG),
    (["device", "list", "--machine", "no-such-machine"], "no-such-machine"),
    (["device", "list", "--machine", "x" * 40], "x" * 40),
    (["device", "register", "--as", "mk", "dev1", "--machine", "no-such-machine"], "no-such-machine"),
]


@pytest.mark.parametrize("args,expected", BAD_IDS, ids=[" ".join(a[:2]) + " " + a[-1][:12] for a, _ in BAD_IDS])
def test_a_bad_id_is_one_line_naming_it_never_a_traceback(chain_home, args, expected):
    # Execute
    out = fedpm(chain_home, *args)
    # Assert: 1 for what the chain refuses, 2 for what the command line refuses before asking it
    lines = out.stderr.strip().splitlines()
    assert out.returncode in (1, 2) and out.stdout == "", (out.returncode, out.stdout, out.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(")") and expected in lines[0], out.stderr


@pytest.fixture(scope="module")
def task_home(chain_home):
    """On the CLI's chain: org factory-1 (OPERATOR, TRAINER; account f1) operating press-1, org maker-1 (AGGREGATOR,
    MANUFACTURER; account mk) that made it and bound its device dev1 and offers it for lease 1; 30 FCT minted to f1;
    task 0 with trainer f1 and aggregator mk, coordinated by g1."""
    from chain.connect import connect
    from fedpm.consortium.client import ConsortiumRegistry, Role
    from fedpm.lease.client import MachineLease
    from fedpm.lease.tariff import Tariff, Unit
    from fedpm.settings import load_settings
    from fl_node.rounds import FederatedLearning, TaskConfig
    from fl_node.storage.cid import cid_of

    settings = load_settings({"home": chain_home, "keys.password": "pw", "keys.scrypt_n": 1024, "keys.allow_weak_scrypt": True}, env={})
    ctx = connect(settings)
    g1, g2, f1, mk = (ctx.sender_for(n) for n in ("g1", "g2", "f1", "mk"))
    registry, lease = ConsortiumRegistry(ctx), MachineLease(ctx)
    for org, roles, account in (("factory-1", Role.OPERATOR | Role.TRAINER, f1), ("maker-1", Role.AGGREGATOR | Role.MANUFACTURER, mk)):
        registry.enact(registry.propose_add_org(g1, org, org, roles, account.address), [g2], g1)
    registry.register_machine(f1, "press-1", "maker-1")
    registry.register_device(mk, ctx.keystore.address("dev1"), "press-1")
    registry.mint(g1, [g2], lease.token.address, f1.address, 30 * 10**18)
    lease.offer(mk, "press-1", Tariff("t1", Unit.OPERATING_HOUR, 2 * 10**18, int(time.time()) + 86400, min_deposit=10 * 10**18))
    fl = FederatedLearning(ctx)
    spec, model = cid_of(b"spec"), cid_of(b"model")
    fl.create_task(g1, TaskConfig(b"\1" * 32, spec, b"\2" * 32, model, [f1.address], [mk.address], 1, 600, 600, 0, 3))
    fl.create_task(g1, TaskConfig(b"\1" * 32, spec, b"\2" * 32, model, [f1.address], [mk.address], 1, 1, 1, 0, 1))  # task 1: 1 s windows
    return chain_home


@pytest.mark.parametrize("role,account,args", [
    ("trainer", "mk", ["node", "train", "--data", "TINY"]),
    ("aggregator", "f1", ["node", "aggregate"]),
    ("trainer", "g1", ["node", "train", "--data", "TINY"]),
], ids=["aggregator-as-trainer", "trainer-as-aggregator", "coordinator-as-trainer"])
def test_a_node_of_an_account_the_task_does_not_list_says_so_and_exits_non_zero(task_home, tmp_path, role, account, args):
    # Prepare: local data that passes the node's checks (3 cycles of one engine, 26 columns)
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("".join(f"1 {c} " + " ".join(["0.5"] * 24) + "\n" for c in range(1, 4)))
    # Execute: before, the node printed "nothing to do" and exited 0
    out = fedpm(task_home, *[str(tiny) if a == "TINY" else a for a in args], "--as", account, "--task", "0", "--once")
    # Assert
    assert out.returncode == 1 and out.stdout == "", (out.stdout, out.stderr)
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and f"error: account {account} (0x" in out.stderr
    assert f"is not a {role} of task 0" in out.stderr and "fedpm task show --task 0" in out.stderr


def test_a_listed_node_logs_what_it_watches_and_where_before_its_first_round(task_home):
    # Execute
    out = fedpm(task_home, "node", "aggregate", "--as", "mk", "--task", "0", "--once")
    # Assert: the start line (task, participants, chain, store, work folder), then the step's result
    first = out.stdout.splitlines()[0]
    assert out.returncode == 0, out.stderr
    assert first.startswith("[mk] aggregator of task 0 (0/3 rounds finalized, 1 trainers, 1 aggregators) on http://127.0.0.1:")
    assert first.endswith(f"store local; work {task_home / 'nodes' / 'mk'}")


def test_status_shows_the_chain_the_deployment_my_orgs_and_the_tasks(task_home):
    # Execute
    data = json.loads(fedpm(task_home, "status", "--json").stdout)
    text = fedpm(task_home, "status")
    # Assert
    accounts = {a["account"]: (a["org"], a["roles"]) for a in data["accounts"]}
    assert data["chain"]["chain_id"] == 1337 and data["deployment"]["members"] == 5 and data["deployment"]["threshold"] == 2
    assert accounts["f1"] == ("factory-1", "OPERATOR,TRAINER") and accounts["g1"] == ("g1", "GOVERNOR") and accounts["dev1"] == (None, None)
    assert data["tasks"][0] == {"task": 0, "rounds": 3, "finalized": 0, "round": 0, "round_state": None, "trainers": 1, "aggregators": 1}
    assert data["latest_model"] is None
    assert text.returncode == 0 and "org factory-1 (OPERATOR,TRAINER)" in text.stdout and "task 0" in text.stdout
    assert "model       none finalized yet" in text.stdout


def test_machine_show_names_its_orgs_device_and_open_lease(task_home):
    # Execute
    data = json.loads(fedpm(task_home, "machine", "show", "press-1", "--json").stdout)
    text = fedpm(task_home, "machine", "show", "press-1").stdout
    missing = fedpm(task_home, "machine", "show", "press-9")
    # Assert
    assert (data["machine"], data["operator"], data["manufacturer"], data["open_lease"]) == ("press-1", "factory-1", "maker-1", 1)  # offered counts
    assert [d["status"] for d in data["devices"]] == ["active"] and "open lease 1 (fedpm lease invoice --lease 1)" in text
    assert missing.returncode == 1 and missing.stderr.strip() == ("error: no machine 'press-9' is registered "
                                                                  "(see the registered machines with `fedpm machine list`)")


def test_lease_list_and_token_balance_speak_tokens_not_wei(task_home):
    # Execute
    leases = json.loads(fedpm(task_home, "lease", "list", "--json").stdout)
    table = fedpm(task_home, "lease", "list").stdout.splitlines()
    balances = json.loads(fedpm(task_home, "token", "balance", "f1", "mk", "--json").stdout)
    text = fedpm(task_home, "token", "balance", "f1").stdout
    # Assert: ids start at 1; money in FCT
    assert [(x["lease"], x["machine"], x["owner"], x["lessee"], x["status"], x["price"], x["unit"]) for x in leases] == [
        (1, "press-1", "maker-1", None, "Offered", "2", "operatingHour")]
    assert table[0].split() == ["LEASE", "MACHINE", "OWNER", "LESSEE", "STATUS", "PRICE", "DEPOSITED", "CHARGED", "AVAILABLE", "UNTIL"]
    assert table[1].split()[:5] == ["1", "press-1", "maker-1", "-", "Offered"] and "2 FCT/operatingHour" in table[1]
    assert [(b["account"], b["balance"]) for b in balances] == [("f1", "30"), ("mk", "0")]
    assert text.startswith("f1  0x") and text.rstrip().endswith(" 30 FCT")


def test_round_open_wait_says_why_a_round_failed_and_exits_non_zero(task_home):
    # Prepare: task 1's round opens and waits; nobody commits in its 1 s window
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")} | {
        "FEDPM_HOME": str(task_home), "FEDPM_KEYS_PASSWORD": "pw", "FEDPM_KEYS_SCRYPT_N": "1024", "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"}
    waiting = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "round", "open", "--as", "g1", "--task", "1", "--wait"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Execute: the aggregator's node closes the expired window (a node advances rounds by the clock)
        deadline = time.monotonic() + 90
        while waiting.poll() is None and time.monotonic() < deadline:
            time.sleep(2)
            fedpm(task_home, "node", "aggregate", "--as", "mk", "--task", "1", "--once")
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    # Assert: the reason, not "model 0000000000000000"
    assert waiting.returncode == 1 and "0000000000000000" not in out, (out, err)
    assert err.strip().splitlines()[-1].startswith("error: round 1 of task 1 failed: ") and "fedpm round status --task 1 --round 1" in err
