"""`fedpm` as a user runs it: real processes against a chain started by `fedpm chain up`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from fedpm.consortium.besu import allowlist_diff, render_besu_allowlist, sync_besu
from fedpm.consortium.client import OrgView, Role


def fedpm(home: Path, *args: str, password: str = "pw", extra_env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}
    env.update({"FEDPM_HOME": str(home), "FEDPM_KEYS_PASSWORD": password, "FEDPM_KEYS_SCRYPT_N": "1024", "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1", **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "fedpm.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def chain_home(tmp_path_factory):
    """`fedpm chain up` in the background; commands find it through <home>/chain.json."""
    home = tmp_path_factory.mktemp("cli-home")
    env = {**os.environ, "FEDPM_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "fedpm.cli", "chain", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
    for name in ("g1", "g2", "g3", "f1", "mk", "dev1"):
        assert fedpm(home, "account", "new", name).returncode == 0
    out = fedpm(home, "deploy", "--as", "g1", "--governor", "g1", "--governor", "g2", "--governor", "g3", "--threshold", "2")
    assert out.returncode == 0, out.stderr
    assert "proposal 0: trust the MachineLease" in out.stderr and "fedpm consortium approve --as GOVERNOR 0" in out.stderr
    yield home
    proc.terminate()
    proc.wait(timeout=10)
    assert not (home / "chain.json").exists()  # chain up cleans up after itself


def test_governance_through_the_cli(chain_home):
    h = chain_home
    pid = fedpm(h, "consortium", "propose", "--as", "g1", "--add", "factory-1", "--name", "Factory 1", "--roles", "OPERATOR,TRAINER", "--account", "f1")
    assert pid.returncode == 0, pid.stderr

    early = fedpm(h, "consortium", "execute", "--as", "g1", pid.stdout.strip())
    assert early.returncode == 1
    assert early.stderr.strip().startswith("error: ") and "NotEnoughApprovals" in early.stderr and "Traceback" not in early.stderr
    assert "(more governors must approve first (fedpm consortium approve))" in early.stderr  # the feature's hint reaches the CLI

    assert fedpm(h, "consortium", "approve", "--as", "g2", pid.stdout.strip()).returncode == 0
    assert fedpm(h, "consortium", "execute", "--as", "g2", pid.stdout.strip()).returncode == 0
    members = json.loads(fedpm(h, "consortium", "members", "--json").stdout)
    assert {m["org"]: m["roles"] for m in members}["factory-1"] == "OPERATOR,TRAINER"

    # a machine and its device, then revocation
    assert fedpm(h, "machine", "register", "--as", "f1", "press-1", "--manufacturer", "g1").returncode == 1  # g1 is no manufacturer
    pid2 = fedpm(h, "consortium", "propose", "--as", "g3", "--add", "maker", "--roles", "MANUFACTURER", "--account", "mk").stdout.strip()
    fedpm(h, "consortium", "approve", "--as", "g1", pid2)
    fedpm(h, "consortium", "execute", "--as", "g1", pid2)
    assert fedpm(h, "machine", "register", "--as", "f1", "press-1", "--manufacturer", "maker").returncode == 0
    by_operator = fedpm(h, "device", "register", "--as", "f1", "dev1", "--machine", "press-1")
    assert by_operator.returncode == 1 and "NotManufacturer(machineId=press-1" in by_operator.stderr  # the maker provisions keys
    assert fedpm(h, "device", "register", "--as", "mk", "dev1", "--machine", "press-1").returncode == 0
    assert fedpm(h, "device", "revoke", "--as", "mk", "dev1").returncode == 0
    assert "press-1" in fedpm(h, "machine", "list").stdout
    assert " revoked " in fedpm(h, "device", "list").stdout

    # the deployment proposed trusting its MachineLease with device-key locks; a second governor completes it
    assert fedpm(h, "consortium", "approve", "--as", "g2", "0").returncode == 0
    assert fedpm(h, "consortium", "execute", "--as", "g2", "0").returncode == 0
    again = fedpm(h, "consortium", "propose", "--as", "g1", "--lease-contract")  # the deployment's, once more: allowed, idempotent
    rows = fedpm(h, "consortium", "proposals").stdout.splitlines()
    assert again.returncode == 0 and rows[0].split()[1:2] == ["AddLeaseContract"] and rows[0].endswith("executed")


def test_besu_allowlist_is_rendered_from_the_registry(chain_home):
    out = fedpm(chain_home, "consortium", "besu-allowlist")

    assert out.returncode == 0, out.stderr
    addresses = json.loads(out.stdout.splitlines()[0].split("=", 1)[1])
    g1 = json.loads((chain_home / "keystores" / "g1.json").read_text())["address"]
    assert "0x" + g1.lower().removeprefix("0x") in addresses
    assert out.stdout.splitlines()[1] == "nodes-allowlist=[]"


@pytest.mark.parametrize("args,env,password,expected", [
    (["consortium", "approve", "--as", "g2", "0"], {}, "wrong", "wrong password for keystore 'g2'"),
    (["consortium", "approve", "--as", "nobody", "0"], {}, "pw", "fedpm account new nobody"),
    (["consortium", "members"], {"FEDPM_CHAIN_RPC_URL": "http://127.0.0.1:9"}, "pw", "no JSON-RPC node answers at http://127.0.0.1:9"),
    (["consortium", "propose", "--as", "f1", "--remove", "g1"], {}, "pw", "MissingRole"),
    (["consortium", "propose", "--as", "dev1", "--remove", "g1"], {}, "pw", "NotMember"),
    (["task", "show", "--task", "99"], {}, "pw", "UnknownTask(taskId=99)"),  # views decode reverts as transactions do
    (["round", "status", "--task", "99"], {}, "pw", "UnknownTask(taskId=99)"),
])
def test_user_errors_are_one_line_with_the_fix_and_exit_non_zero(chain_home, args, env, password, expected):
    out = fedpm(chain_home, *args, password=password, extra_env=env)

    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and expected in out.stderr and "(" in out.stderr


def one_line_error(out: subprocess.CompletedProcess, *expected: str) -> bool:
    """Exit 1 with a single `error: <what> (<fix>)` line on stderr holding every `expected` text, no traceback."""
    lines = out.stderr.strip().splitlines()
    return out.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(")") and all(e in lines[0] for e in expected)


@pytest.mark.parametrize("content,expected", [
    (b"this is no keystore\n", "is not JSON"),
    (json.dumps({"address": "ab" * 20, "crypto": {}, "id": "x"}).encode(), 'is corrupt: no "version": 3'),  # was KeyError 'version'
])
def test_a_corrupt_keystore_is_one_line_naming_the_file_and_stays_as_it_is(chain_home, content, expected):
    path = chain_home / "keystores" / "broken.json"
    path.write_bytes(content)
    try:
        signing = fedpm(chain_home, "consortium", "approve", "--as", "broken", "0")
        listing = fedpm(chain_home, "account", "list")
    finally:
        kept = path.read_bytes()
        path.unlink()

    for out in (signing, listing):
        assert one_line_error(out, str(path), expected, "restore it from your backup"), out.stderr
    assert kept == content


def test_audit_of_an_unregistered_machine_is_an_error_not_an_empty_history(chain_home):
    from fedpm.maintenance.store import RecordStore, record_store_path

    with RecordStore(record_store_path(chain_home), create=True):  # an operator's store (empty): only the machine is wrong
        pass

    out = fedpm(chain_home, "audit", "maintenance", "--machine", "nosuch")

    assert one_line_error(out, "machine 'nosuch' is not registered", "fedpm machine list"), out.stderr
    assert "OK" not in out.stdout


GATEWAY_STORE_READERS = [("gateway", "status"), ("verify", "batch"), ("verify", "reading", "--machine", "m", "--seq", "0", "--index", "0")]


@pytest.mark.parametrize("command", GATEWAY_STORE_READERS, ids=lambda c: " ".join(c[:2]))
def test_reading_a_mistyped_gateway_store_creates_nothing(tmp_path, command):
    home, store = tmp_path / "home", tmp_path / "gatway.sqlite"  # sic: the mistyped name

    given = fedpm(home, *command, "--store", str(store))
    default = fedpm(home, *command)

    assert one_line_error(given, f"no gateway store at {store}", "check --store"), given.stderr
    assert one_line_error(default, f"no gateway store at {home / 'sensors' / 'gateway.sqlite'}"), default.stderr
    assert not store.exists() and not (home / "sensors").exists()


@pytest.mark.parametrize("command", GATEWAY_STORE_READERS, ids=lambda c: " ".join(c[:2]))
def test_a_gateway_store_that_is_no_sqlite_or_another_database_is_refused_untouched(tmp_path, command):
    import sqlite3

    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"readings, but not a database\n" * 100)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE mine (x)")
    before = other.read_bytes()

    not_sqlite = fedpm(tmp_path, *command, "--store", str(junk))  # sqlite3.DatabaseError before
    foreign = fedpm(tmp_path, *command, "--store", str(other))

    assert one_line_error(not_sqlite, f"{junk} is not a gateway store", "check --store"), not_sqlite.stderr
    assert one_line_error(foreign, f"{other} is an SQLite database but no gateway store"), foreign.stderr
    assert junk.read_bytes() == b"readings, but not a database\n" * 100 and other.read_bytes() == before


@pytest.mark.parametrize("command", [("maintenance", "list"), ("maintenance", "export", "--machine", "m"), ("maintenance", "sync", "--as", "g1"),
                                     ("audit", "maintenance", "--machine", "m")], ids=lambda c: " ".join(c[:2]))
def test_reading_the_maintenance_store_of_a_wrong_home_creates_nothing(tmp_path, command):
    out = fedpm(tmp_path, *command)
    (tmp_path / "maintenance.sqlite").write_bytes(b"\0not sqlite")
    junk = fedpm(tmp_path, *command)

    assert one_line_error(out, f"no local maintenance store at {tmp_path / 'maintenance.sqlite'}", "FEDPM_HOME"), out.stderr
    assert one_line_error(junk, "is not a local maintenance store: file is not a database"), junk.stderr
    assert (tmp_path / "maintenance.sqlite").read_bytes() == b"\0not sqlite"


def test_deployment_file_for_another_chain_is_refused(chain_home, tmp_path):
    (dep,) = (chain_home / "deployments").glob("*.json")
    data = json.loads(dep.read_text())
    data["chain_id"] += 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))

    out = fedpm(chain_home, "consortium", "members", extra_env={"FEDPM_CHAIN_DEPLOYMENT_FILE": str(other)})

    assert out.returncode == 1 and f"is for chain id {data['chain_id']}" in out.stderr


def test_no_chain_configured_names_the_fix(tmp_path):
    out = fedpm(tmp_path, "consortium", "members")

    assert out.returncode == 1 and "fedpm chain up" in out.stderr


# ---------------------------------------------------------------- Besu permissioning, pure and over JSON-RPC


MEMBERS = [OrgView("gov-a", "A", Role.GOVERNOR, True, ("0xAbC0000000000000000000000000000000000001",), ("enode://aa@10.0.0.1:30303",)),
           OrgView("f-1", "F", Role.OPERATOR, True, ("0x0000000000000000000000000000000000000002",), ()),
           OrgView("gone", "G", Role.OPERATOR, False, ("0x0000000000000000000000000000000000000003",), ("enode://cc@10.0.0.3:30303",))]


def test_render_besu_allowlist_lists_only_active_members_sorted_and_lowercased():
    text = render_besu_allowlist(MEMBERS)

    assert text == ('accounts-allowlist=["0x0000000000000000000000000000000000000002","0xabc0000000000000000000000000000000000001"]\n'
                    'nodes-allowlist=["enode://aa@10.0.0.1:30303"]\n')


def test_allowlist_diff_adds_members_and_removes_former_ones():
    diff = allowlist_diff(MEMBERS, ["0x0000000000000000000000000000000000000003", "0xabc0000000000000000000000000000000000001"], ["enode://cc@10.0.0.3:30303"])

    assert diff.add_accounts == ["0x0000000000000000000000000000000000000002"]
    assert diff.remove_accounts == ["0x0000000000000000000000000000000000000003"]
    assert (diff.add_nodes, diff.remove_nodes) == (["enode://aa@10.0.0.1:30303"], ["enode://cc@10.0.0.3:30303"])


class PermNode(BaseHTTPRequestHandler):
    """Besu's perm_* JSON-RPC semantics over in-memory allowlists (no Besu can run here)."""

    accounts: list[str] = []
    nodes: list[str] = []
    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method, params = req["method"], req["params"]
        self.calls.append(method)
        result: object = "Success"
        if method == "perm_getAccountsAllowlist":
            result = list(self.accounts)
        elif method == "perm_getNodesAllowlist":
            result = list(self.nodes)
        elif method == "perm_addAccountsToAllowlist":
            self.accounts.extend(params[0])
        elif method == "perm_removeAccountsFromAllowlist":
            self.accounts[:] = [a for a in self.accounts if a not in params[0]]
        elif method == "perm_addNodesToAllowlist":
            self.nodes.extend(params[0])
        elif method == "perm_removeNodesFromAllowlist":
            self.nodes[:] = [n for n in self.nodes if n not in params[0]]
        body = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_sync_besu_applies_the_difference_and_is_idempotent():
    PermNode.accounts = ["0x0000000000000000000000000000000000000003"]
    PermNode.nodes = []
    PermNode.calls = []
    server = HTTPServer(("127.0.0.1", 0), PermNode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        first = sync_besu(url, MEMBERS)
        second = sync_besu(url, MEMBERS)
    finally:
        server.shutdown()

    assert sorted(PermNode.accounts) == ["0x0000000000000000000000000000000000000002", "0xabc0000000000000000000000000000000000001"]
    assert PermNode.nodes == ["enode://aa@10.0.0.1:30303"]
    assert not first.empty and second.empty
    assert PermNode.calls[-2:] == ["perm_getAccountsAllowlist", "perm_getNodesAllowlist"]  # nothing to apply the second time
