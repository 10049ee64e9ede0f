"""`make demo`'s program, shortened to one round: every part runs and writes what the README promises."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from chain.toolchain import REPO_ROOT
from fl_node.modelfile import decode_spec, model_hash
from tests.fl_helpers import constant_mean_rmse
from tests.parts import needs

# One round of one epoch reaches ~0.5 of the constant-mean predictor's RMSE on the held-out engines (20.8 vs 42.8).
BEAT_CONSTANT = 2 / 3

pytestmark = [pytest.mark.slow, needs("cmapss")]


def test_demo_runs_every_part_and_writes_its_outputs(tmp_path):
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDPM_")}

    run = subprocess.run([sys.executable, "-m", "fedpm.demo", "--rounds", "1", "--epochs", "1", "--linger", "0", "--out", str(out)],
                         cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["contracts"]) >= {"ConsortiumRegistry", "SensorBatchRegistry", "MaintenanceLog", "FederatedLearning", "MachineLease", "PartRegistry"}
    (round1,) = summary["rounds"]
    # the honest aggregators voted the finalized model; the liar took part: it voted something else and is recorded as
    # outvoted, or (it races the honest quorum) it computed its lie and sent it after round 1 was already finalized
    assert round1["votes"]["agg-1"] == round1["votes"]["agg-2"] == round1["model_hash"], round1["votes"]
    liar_log = (out / "logs" / "agg-3.log").read_text()
    if "agg-3" in round1["votes"]:
        assert round1["votes"]["agg-3"] != round1["model_hash"] and round1["dissenters"] == ["agg-3"], round1
    else:
        assert re.search(r"too late, waiting for the next round: .*WrongRoundState\(taskId=\d+, round=1, state=4\)", liar_log) and round1["dissenters"] == [], liar_log
    model = (out / "global_model.safetensors").read_bytes()
    assert "0x" + model_hash(model).hex() == round1["model_hash"]
    assert decode_spec(model)["task"] == "cmapss_rul"
    assert summary["maintenance"]["audit_ok"] is True and summary["lease"]["reconciled"] is True
    devices = summary["devices"]["machines"]
    assert sorted(devices) == [f"factory-{i}-m1" for i in range(1, 5)]
    assert all(d["boundBy"] == d["attestedBy"] == "maker" and d["attested"] and d["status"] == "active" for d in devices.values()), devices
    assert summary["devices"]["operatorBind"]["refused"] == "NotManufacturer"
    assert "skipped" not in summary["sensors"], f"the sensor part did not run: {summary['sensors']['skipped']} (apt-get install mosquitto)"
    assert summary["sensors"]["readings_anchored"] == summary["sensors"]["readings_sent"] > 0
    assert summary["sensors"]["batches_verified"] == summary["sensors"]["batches_anchored"] > 0
    assert summary["parts"]["check"]["ok"] is True and len(summary["parts"]["parts"]) == 3  # parts of the simulated machine, a passport verified
    assert json.loads((out / "part-passport.json").read_text())["record"]["part"] == summary["parts"]["parts"][0]["part"]
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the service served the final global model on a replayed held-out engine: predictions from verified data, every
    # alert answered by a record hashed on chain and audited, the engine's history labeled for training
    service = summary["service"]
    assert service["predictions"] and all(p["round"] == round1["round"] for p in service["predictions"])
    assert service["answer"]["status"] == "anchored" and service["audit_ok"] is True
    assert sorted(service["answered"]) == sorted(a["id"] for a in service["alerts"])
    assert all(a["model_hash"] == round1["model_hash"] for a in service["alerts"])
    assert service["labels"]["cycles"] == service["stopped_at_cycle"] and service["labels"]["first_true_rul"] == service["stopped_at_cycle"] - 1
    assert (out / "fleet_health.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ("ALERT" in run.stdout) == bool(service["alerts"])
    assert "explorer: http://127.0.0.1:" in run.stdout and (out / "anvil-state.json").exists()
    # the README's evaluate command works on what the demo wrote: its held-out engines, cut once each
    evaluate = subprocess.run([sys.executable, "-m", "fedpm.cli", "evaluate", "--model", str(out / "global_model.safetensors"),
                               "--test", str(out / "data" / "test_FD001.txt"), "--rul", str(out / "data" / "RUL_FD001.txt"), "--json"],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    # and the model learned: well below always predicting the factories' mean RUL (a model predicting zero scores ~86)
    rmse = json.loads(evaluate.stdout.strip().splitlines()[-1])["rmse"]
    baseline = constant_mean_rmse(sorted((out / "data").glob("factory-*.txt")), out / "data" / "RUL_FD001.txt", decode_spec(model)["rul_cap"])
    assert 0 < rmse < BEAT_CONSTANT * baseline, (rmse, baseline)
