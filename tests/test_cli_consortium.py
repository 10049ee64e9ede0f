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
    for name in ("g1", "g2", "g3", "f1", "dev1"):
        assert fedpm(home, "account", "new", name).returncode == 0
    out = fedpm(home, "deploy", "--as", "g1", "--governor", "g1", "--governor", "g2", "--governor", "g3", "--threshold", "2")
    assert out.returncode == 0, out.stderr
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
    pid2 = fedpm(h, "consortium", "propose", "--as", "g3", "--add", "maker", "--roles", "MANUFACTURER", "--account", "0x" + "ab" * 20).stdout.strip()
    fedpm(h, "consortium", "approve", "--as", "g1", pid2)
    fedpm(h, "consortium", "execute", "--as", "g1", pid2)
    assert fedpm(h, "machine", "register", "--as", "f1", "press-1", "--manufacturer", "maker").returncode == 0
    assert fedpm(h, "device", "register", "--as", "f1", "dev1", "--machine", "press-1").returncode == 0
    assert fedpm(h, "device", "revoke", "--as", "f1", "dev1").returncode == 0
    assert "press-1" in fedpm(h, "machine", "list").stdout


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
