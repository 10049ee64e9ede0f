from tasks.bearing.experiment import Factory, run_factories, run_state_classifier
from tasks.bearing.vibration import STATES, Condition


def test_federated_state_classifier_separates_the_states():
    # Execute: 2 factories, 2 rounds of the one local update, fresh test windows
    out = run_state_classifier(n_factories=2, windows_per_state=10, rounds=2, epochs=10, seed=0)
    # Assert: a useful classifier (chance is 1/4), few false alarms, a recall for every state
    assert out["accuracy"] >= 0.85
    assert out["false_alarm_rate"] <= 0.2
    assert set(out["recall"]) == set(STATES) and all(v is not None for v in out["recall"].values())


def test_the_federation_recognises_a_failure_a_plant_never_recorded():
    # Prepare: two plants at different operating points; the second has never seen a failure
    plants = (Factory("a", Condition(rpm=1797, load=1.0), (12, 8, 8, 8)), Factory("b", Condition(rpm=1200, load=0.7, noise=1.5), (12, 8, 8, 0)))
    # Execute
    out = run_factories(plants, test_per_state=6, rounds=6, epochs=2, seed=0, n=2048)
    # Assert: the plant alone cannot name a failure; the federation learned plant a's and scores the fleet better than
    # plant b alone; every test window is counted
    assert out["alone"][1]["recall"]["failure"] == 0.0
    assert out["federated"]["recall"]["failure"] >= 0.5 and out["federated"]["accuracy"] > out["alone"][1]["accuracy"]
    assert sum(map(sum, out["federated"]["confusion"])) == out["test_windows"] == 2 * 4 * 6
    assert len(out["alone"]) == 2 and len(out["federated"]["per_factory_accuracy"]) == 2
