"""What a user sees when a command cannot do what they asked, run as they run it (real processes against a chain
started by `fedpm chain up`): one line `error: <what> (<fix>)` and a non-zero exit, never a traceback."""

from __future__ import annotations

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
    """Task 0 on the CLI's chain: trainer f1 (org factory-1), aggregator mk (org agg-1); g1 coordinates."""
    from fedpm.consortium.client import ConsortiumRegistry, Role
    from fedpm.settings import load_settings
    from fl_node.rounds import FederatedLearning, TaskConfig
    from chain.connect import connect

    settings = load_settings({"home": chain_home, "keys.password": "pw", "keys.scrypt_n": 1024, "keys.allow_weak_scrypt": True}, env={})
    ctx = connect(settings)
    g1, g2 = ctx.sender_for("g1"), ctx.sender_for("g2")
    registry = ConsortiumRegistry(ctx)
    for org, roles, account in (("factory-1", Role.OPERATOR | Role.TRAINER, "f1"), ("agg-1", Role.AGGREGATOR, "mk")):
        registry.enact(registry.propose_add_org(g1, org, org, roles, ctx.keystore.address(account)), [g2], g1)
    FederatedLearning(ctx).create_task(g1, TaskConfig(b"\1" * 32, "spec", b"\2" * 32, "model", [ctx.keystore.address("f1")],
                                                      [ctx.keystore.address("mk")], 1, 600, 600, 0, 3))
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
