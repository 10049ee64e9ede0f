from tasks.bearing.experiment import run_state_classifier
from tasks.bearing.vibration import STATES


def test_federated_state_classifier_separates_the_states():
    # Execute: 2 factories, 2 rounds of the one local update, fresh test windows
    out = run_state_classifier(n_factories=2, windows_per_state=10, rounds=2, epochs=10, seed=0)
    # Assert: a useful classifier (chance is 1/4), few false alarms, a recall for every state
    assert out["accuracy"] >= 0.85
    assert out["false_alarm_rate"] <= 0.2
    assert set(out["recall"]) == set(STATES) and all(v is not None for v in out["recall"].values())
