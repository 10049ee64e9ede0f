"""The chain layer on its own: keystores, revert decoding, deployment files, compile parity, settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from eth_abi import encode
from eth_utils import keccak

from chain.deploy import Deployment
from chain.errors import DeploymentError, KeystoreError
from chain.keystore import Keystore
from chain.reverts import ContractRevert, RevertDecoder, revert_class
from chain.settings import KeySettings
from fedpm.settings import load_settings
from ground.errors import ConfigError



def test_keystore_round_trip_and_wrong_password(tmp_path):
    ks = Keystore(tmp_path, KeySettings(password="right", scrypt_n=2**10, allow_weak_scrypt=True))
    address = ks.create("alice")

    assert ks.load("alice").address == address == ks.address("alice")
    assert (tmp_path / "alice.json").stat().st_mode & 0o077 == 0  # owner-only file
    assert "right" not in (tmp_path / "alice.json").read_text()
    with pytest.raises(KeystoreError, match="wrong password"):
        Keystore(tmp_path, KeySettings(password="wrong", scrypt_n=2**10, allow_weak_scrypt=True)).load("alice")
    with pytest.raises(KeystoreError, match="fedpm account new bob"):
        ks.load("bob")
    with pytest.raises(KeystoreError, match="already exists"):
        ks.create("alice")


def _altered(good: dict, **crypto: object) -> bytes:
    return json.dumps({**good, "crypto": {**good["crypto"], **crypto}}).encode()


@pytest.mark.parametrize("make,expected", [
    (lambda good: b"not json at all", "is not JSON"),
    (lambda good: b"\xff\xfe\x00binary", "is not JSON"),
    (lambda good: b"[]", "corrupt: a JSON list, not an object"),
    (lambda good: json.dumps({k: v for k, v in good.items() if k != "version"}).encode(), 'corrupt: no "version": 3'),
    (lambda good: json.dumps({k: v for k, v in good.items() if k != "address"}).encode(), 'corrupt: no valid "address"'),
    (lambda good: json.dumps({k: v for k, v in good.items() if k != "crypto"}).encode(), 'corrupt: no "crypto" object'),
    (lambda good: _altered(good, kdfparams={}), "corrupt: cannot decrypt it (KeyError: 'salt')"),
    (lambda good: _altered(good, kdf="md5"), "corrupt: cannot decrypt it (TypeError"),
    (lambda good: _altered(good, ciphertext="zz"), "corrupt: Non-hexadecimal"),
])
def test_a_corrupt_keystore_is_named_and_left_as_it_is(tmp_path, make, expected):
    ks = Keystore(tmp_path, KeySettings(password="pw", scrypt_n=2**10, allow_weak_scrypt=True))
    ks.create("alice")
    broken = make(json.loads((tmp_path / "alice.json").read_text()))
    (tmp_path / "alice.json").write_bytes(broken)

    with pytest.raises(KeystoreError) as exc:
        ks.load("alice")

    assert expected in str(exc.value) and "restore it from your backup" in str(exc.value) and "alice.json" in str(exc.value)
    assert (tmp_path / "alice.json").read_bytes() == broken  # nothing rewritten
    if "cannot decrypt" not in expected and "Non-hex" not in expected:
        with pytest.raises(KeystoreError, match="restore it from your backup"):
            ks.address("alice")


def test_password_file_wins_over_missing_password(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    pw.chmod(0o600)
    ks = Keystore(tmp_path / "ks", KeySettings(password_file=pw, scrypt_n=2**10, allow_weak_scrypt=True))
    address = ks.create("carol")

    assert Keystore(tmp_path / "ks", KeySettings(password="from-file", scrypt_n=2**10, allow_weak_scrypt=True)).load("carol").address == address
    with pytest.raises(KeystoreError, match="no keystore password"):
        Keystore(tmp_path / "ks", KeySettings()).load("carol")


def test_password_file_other_users_can_read_is_refused(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    keys = KeySettings(password_file=pw, scrypt_n=2**10, allow_weak_scrypt=True)
    for mode in (0o644, 0o640, 0o604):
        pw.chmod(mode)
        with pytest.raises(KeystoreError, match=f"mode {mode:04o}.*chmod 600 {pw}"):
            Keystore(tmp_path / "ks", keys).create("dave")
    assert not (tmp_path / "ks" / "dave.json").exists()
    pw.chmod(0o600)
    assert Keystore(tmp_path / "ks", keys).create("dave")


def test_scrypt_n_below_the_floor_is_refused_unless_allowed_for_tests(tmp_path):
    from chain.keystore import SCRYPT_N_FLOOR

    assert SCRYPT_N_FLOOR == 2**14
    with pytest.raises(KeystoreError, match="below the floor of 16384"):
        Keystore(tmp_path, KeySettings(password="x", scrypt_n=2**10)).create("weak")
    with pytest.raises(KeystoreError, match="not a power of two"):
        Keystore(tmp_path, KeySettings(password="x", scrypt_n=20000)).create("odd")
    assert not list(tmp_path.glob("*.json"))
    ks = Keystore(tmp_path, KeySettings(password="x", scrypt_n=2**14))
    address = ks.create("floor")
    assert json.loads((tmp_path / "floor.json").read_text())["crypto"]["kdfparams"]["n"] == 2**14
    assert ks.load("floor").address == address
    assert Keystore(tmp_path, KeySettings(password="x", scrypt_n=2**10, allow_weak_scrypt=True)).create("test-only")
    assert load_settings(env={"FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"}).keys.allow_weak_scrypt
    assert not load_settings(env={}).keys.allow_weak_scrypt


def test_cli_account_new_refuses_a_weak_scrypt_n_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FEDPM_HOME": str(tmp_path), "FEDPM_KEYS_PASSWORD": "x", "FEDPM_KEYS_SCRYPT_N": "1024"}
    out = subprocess.run([sys.executable, "-m", "fedpm.cli", "account", "new", "gov-a"], env=env, capture_output=True, text=True, timeout=120)

    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "below the floor" in out.stderr and "FEDPM_KEYS_SCRYPT_N" in out.stderr
    assert not (tmp_path / "keystores" / "gov-a.json").exists()


def test_revert_decoder_names_custom_errors_with_arguments():
    abi = [{"type": "error", "name": "NotMember", "inputs": [{"name": "account", "type": "address"}]},
           {"type": "error", "name": "Late", "inputs": [{"name": "round", "type": "uint256"}, {"name": "deadline", "type": "uint64"}]}]
    decoder = RevertDecoder(abi)
    data = keccak(text="Late(uint256,uint64)")[:4] + encode(["uint256", "uint64"], [3, 99])

    exc = decoder.decode("0x" + data.hex())

    assert type(exc) is revert_class("Late") and isinstance(exc, ContractRevert)
    assert exc.error_args == {"round": 3, "deadline": 99}
    assert str(exc) == "reverted with Late(round=3, deadline=99)"
    assert decoder.decode(keccak(text="Error(string)")[:4] + encode(["string"], ["boom"])).error_args == {"message": "boom"}
    assert decoder.decode(b"\x12\x34\x56\x78").error_name == "UnknownRevert"


def test_settings_precedence_code_over_env_over_file(tmp_path):
    cfg = tmp_path / "fedpm.toml"
    cfg.write_text('home = "/from/file"\n[chain]\nrpc_url = "http://file:1"\ntx_timeout_s = 5\n[mqtt]\nport = 1999\n')
    env = {"FEDPM_CONFIG": str(cfg), "FEDPM_CHAIN_RPC_URL": "http://env:2"}

    s = load_settings({"mqtt.port": 1234}, env=env)

    assert s.chain.rpc_url == "http://env:2" and s.chain.tx_timeout_s == 5.0 and s.mqtt.port == 1234 and str(s.home) == "/from/file"
    assert load_settings(env={}).chain.rpc_url is None
    with pytest.raises(ConfigError, match="not a valid int"):
        load_settings(env={"FEDPM_MQTT_PORT": "abc"})
    cfg.write_text("[chian]\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env=env)


def test_deployment_file_is_reused_by_another_process_and_rejected_for_another_chain(consortium, tmp_path):
    ctx = consortium.ctx
    code = ("from fedpm.settings import load_settings; from chain.connect import connect; from fedpm.consortium.client import ConsortiumRegistry;"
            "print(len(ConsortiumRegistry(connect(load_settings())).members()))")
    env = {"FEDPM_CHAIN_RPC_URL": ctx.w3.provider.endpoint_uri, "FEDPM_CHAIN_DEPLOYMENT_FILE": str(ctx.deployment_path), "PATH": "/usr/bin:/bin"}

    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)

    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 11
    other = tmp_path / "other.json"
    data = json.loads(ctx.deployment_path.read_text())
    Deployment(chain_id=data["chain_id"] + 1, block=0, contracts=data["contracts"]).save(other)
    from chain.connect import ChainContext

    stale = ChainContext(settings=load_settings({"chain.deployment_file": other}, env={}), w3=ctx.w3, artifacts=ctx.artifacts)
    with pytest.raises(DeploymentError, match="is for chain id"):
        stale.deployment


def test_ape_compile_matches_the_python_compile_path(ape):
    """ape-solidity and chain.compile use the same solc-js shim and settings: same ABI, same code."""
    from chain.compile import compile_contracts

    out = ape.run("compile", "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    ape_types = json.loads((ape.path / ".build" / "__local__.json").read_text())["contractTypes"]
    ours = compile_contracts()

    def strip_metadata(code: str) -> bytes:  # the CBOR tail names source paths; the code before it must agree
        raw = bytes.fromhex(code[2:] if code.startswith("0x") else code)
        return raw[: -(int.from_bytes(raw[-2:], "big") + 2)]

    for name in ("ConsortiumRegistry", "FederatedLearning"):
        assert sorted(map(json.dumps, ape_types[name]["abi"])) == sorted(map(json.dumps, ours[name].abi))
        assert strip_metadata(ape_types[name]["deploymentBytecode"]["bytecode"]) == strip_metadata(ours[name].bytecode)


def test_ape_run_deploy_leaves_a_usable_deployment_and_keystores_and_refuses_a_throwaway_chain(ape, anvil, snapshot, tmp_path):
    """`ape run deploy` against a running chain (as `fedpm chain up` starts): the deployment file and the keystore
    governors it used work for `ape run round --as`; a chain ape would start and stop itself is refused in one line."""
    import os

    from chain.compile import compile_contracts
    from chain.connect import ChainContext
    from fedpm.consortium.client import ConsortiumRegistry
    from tests.conftest import TEST_PASSWORD, make_settings

    settings = make_settings(tmp_path)
    ks = Keystore(settings.keystore_dir, settings.keys)
    governors = {name: ks.create(name) for name in ("gov-a", "gov-b", "gov-c")}
    env = {**os.environ, "FEDPM_HOME": str(tmp_path), "FEDPM_KEYS_PASSWORD": TEST_PASSWORD}

    def run(*args: str) -> subprocess.CompletedProcess:
        return ape.run("run", *args, env=env)

    throwaway = run("deploy", "--network", "ethereum:local:foundry")
    assert throwaway.returncode != 0 and "fedpm chain up" in throwaway.stdout + throwaway.stderr
    assert not (tmp_path / "deployments").exists()

    out = run("deploy", "--network", f"ethereum:local:{anvil.url}", "--as", "gov-a")
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = (tmp_path / "deployments").glob("*.json")
    deployed = json.loads(path.read_text())["contracts"]
    ours = compile_contracts()
    assert {n: c["abi_hash"] for n, c in deployed.items()} == {n: ours[n].abi_hash for n in deployed}
    import web3

    ctx = ChainContext(settings=settings, w3=web3.Web3(web3.Web3.HTTPProvider(anvil.url)), artifacts=ours)
    assert sorted(m.accounts[0] for m in ConsortiumRegistry(ctx).members()) == sorted(governors.values())
    # the keystore account signs through ape: task 0 does not exist, and that revert comes back decoded in one line
    rnd = run("round", "--task", "0", "--as", "gov-a", "--network", f"ethereum:local:{anvil.url}")
    assert rnd.returncode != 0 and "Traceback" not in rnd.stdout + rnd.stderr
    assert "UnknownTask" in rnd.stdout + rnd.stderr


def test_ape_run_round_without_a_deployment_is_a_one_line_error(ape, anvil, tmp_path):
    import os

    from tests.conftest import TEST_PASSWORD

    env = {**os.environ, "FEDPM_HOME": str(tmp_path), "FEDPM_KEYS_PASSWORD": TEST_PASSWORD}
    out = ape.run("run", "round", "--task", "0", "--as", "gov-a", "--network", f"ethereum:local:{anvil.url}", env=env)

    assert out.returncode != 0 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert "deployment" in (out.stdout + out.stderr).lower()
