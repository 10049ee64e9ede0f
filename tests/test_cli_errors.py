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
