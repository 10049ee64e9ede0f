"""`fedpm network init` through the real CLI: what it writes (deterministic from a seed, keystores encrypted) and the
bad input it refuses with one line and a non-zero exit, leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eth_account import Account

from tests.conftest import TEST_PASSWORD

SEED = "ab" * 32


def init(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}
    env.update({"FEDPM_HOME": str(tmp_path / "home"), "FEDPM_KEYS_PASSWORD": TEST_PASSWORD, "FEDPM_KEYS_SCRYPT_N": str(2**10), "FEDPM_KEYS_ALLOW_WEAK_SCRYPT": "1"})
    return subprocess.run([sys.executable, "-m", "fedpm.cli", "network", "init", *args], env=env, capture_output=True, text=True, timeout=120)


def test_init_is_deterministic_from_a_seed_and_keystores_are_encrypted(tmp_path: Path) -> None:
    a, b, c = (init(tmp_path, "--out", str(tmp_path / n), *s) for n, s in (("a", ["--seed", SEED]), ("b", ["--seed", "0x" + SEED]), ("c", [])))
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + b.stderr + c.stderr
    for name in ("network.json", "genesis.json", "static-nodes.json", "ipfs/swarm.key", "members/member-3/ipfs/init.sh"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    env = (tmp_path / "a" / ".env").read_text()  # the .env names the folder it was written to, for the compose file
    assert f"FEDPM_NETWORK_DIR={tmp_path / 'a'}\n" in env and env.replace(str(tmp_path / "a"), "B") == (tmp_path / "b" / ".env").read_text().replace(str(tmp_path / "b"), "B")
    assert (tmp_path / "a" / "network.json").read_text() != (tmp_path / "c" / "network.json").read_text()  # no seed: random
    plan = json.loads((tmp_path / "a" / "network.json").read_text())
    assert [m["name"] for m in plan["members"]] == [f"member-{i}" for i in range(1, 5)] and a.stdout.count("validator 0x") == 4
    keystore = json.loads((tmp_path / "a" / "members" / "member-2" / "keystores" / "member-2.json").read_text())
    assert "crypto" in keystore and keystore["crypto"]["kdf"] == "scrypt"
    key = Account.decrypt(keystore, TEST_PASSWORD)
    assert Account.from_key(key).address == plan["members"][1]["account"]
    assert key.hex() not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "a").rglob("*") if p.is_file())


def test_bad_input_is_refused_with_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "genesis.json").write_text("a network someone already runs")
    cases = {
        "non-empty": (["--out", str(occupied)], "is not an empty directory"),
        "three members": (["--out", str(tmp_path / "three"), "--members", "3"], "at least 4 validators"),
        "bad seed": (["--out", str(tmp_path / "seed"), "--seed", "not-hex"], "is not 32 bytes of hex"),
        "short seed": (["--out", str(tmp_path / "short"), "--seed", "abcd"], "is not 32 bytes of hex"),
    }
    for case, (args, message) in cases.items():
        out = init(tmp_path, *args)
        assert out.returncode != 0 and out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0, (case, out.stderr)
        assert message in out.stderr and "(" in out.stderr, (case, out.stderr)  # the one line names the fix
    assert (occupied / "genesis.json").read_text() == "a network someone already runs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied"]  # no half-written network, no staging folder


def test_an_init_that_fails_midway_leaves_no_network_behind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}
    env.update({"FEDPM_HOME": str(tmp_path / "home")})  # no keystore password: the first keystore cannot be written
    out = subprocess.run([sys.executable, "-m", "fedpm.cli", "network", "init", "--out", str(tmp_path / "net"), "--seed", SEED],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and out.stderr.strip().count("\n") == 0, out.stderr
    assert not (tmp_path / "net").exists() and not any(p.name.startswith(".net-") for p in tmp_path.iterdir())
