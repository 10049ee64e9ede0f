"""Bad input to the federated-learning commands, run as a user runs them: one line `error: <what> (<fix>)`, a
non-zero exit, and nothing sent (these fail before the command looks for a chain; none runs here)."""

from __future__ import annotations

import json

import pytest

from tests.test_cli_consortium import fedpm

TRAIN = {"epochs": 1, "batch_size": 32}
ADDRESSES = ",".join("0x" + f"{i:02x}" * 20 for i in range(1, 4))  # three trainers, given as addresses: no keystore needed
KINDS_HINT = "set \"task\" to one of bearing_state, cmapss_rul"


def rul_spec(**fields) -> dict:
    norm = {"features": ["s2"], "kind": "minmax", "offset": [641.0], "scale": [3.0]}
    return {"task": "cmapss_rul", "train": TRAIN, "window": 5, "rul_cap": 125, "normalization": norm, "model": {"filters": [2]}, **fields}


@pytest.mark.parametrize("text,error", [
    ("window: 50\n", 'is not JSON: Expecting value: line 1 column 1 (char 0) (write the spec as one JSON object (`fedpm task spec` writes one))'),
    ("{}", ': "task" is missing (add "task": the task kind, one of bearing_state, cmapss_rul)'),
    ('{"task": "cmapss_rull"}', f": \"task\" names unknown task kind 'cmapss_rull' ({KINDS_HINT})"),
    (json.dumps(rul_spec(window="50")), ': "window" must be an integer >= 1, got "50" (set "window" to an integer >= 1)'),
    (json.dumps(rul_spec(aggregation={"rule": "trimmed_mean", "params": {"beta": 0.5}})), ": aggregation: trimmed_mean's beta must be a number in [0, 0.5), got 0.5"),
    (json.dumps(rul_spec(aggregation={"rule": "krum", "params": {"f": 1}})),
     ": aggregation: krum with f=1 needs more than 4 trainers, the task has 3 (lower the rule's tolerance in aggregation.params, or add trainers)"),
], ids=["not-json", "empty-object", "unknown-kind", "wrong-type", "trimmed-mean-beta", "krum-f-too-large"])
def test_task_create_refuses_a_bad_spec_in_one_line(tmp_path, text, error):
    # Prepare
    spec = tmp_path / "spec.json"
    spec.write_text(text)
    # Execute
    out = fedpm(tmp_path / "home", "task", "create", "--as", "gov", "--spec", str(spec), "--trainers", ADDRESSES, "--aggregators", ADDRESSES)
    # Assert
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: task spec{'' if 'krum' in text else ' ' + str(spec)}") and error in out.stderr


def test_node_train_checks_its_data_when_it_starts(tmp_path):
    # Prepare: a file that is not a C-MAPSS table
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("these are not\nthe rows you are looking for\n")
    # Execute
    out = fedpm(tmp_path / "home", "node", "train", "--as", "f1", "--task", "1", "--data", str(garbage))
    # Assert: refused at start, naming the file and the fix (before, it waited for a round and failed then)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == (f"error: {garbage} is not a C-MAPSS table: could not convert string 'these' to float64 at row 0, column 1."
                                  " (each row needs 26 whitespace-separated numbers)")
