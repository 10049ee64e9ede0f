import numpy as np

from fl_node import aggregate
from tasks import model as M
from tasks.bearing import classifier as sc
from tasks.bearing import vibration as vib
from tasks.stats import combine_stats


def test_classifier_trains_federatedly_with_fedavg():
    # Prepare: two factories with their own simulated windows; standardization from combined statistics
    data = []
    for seed in (1, 2):
        windows, y = vib.simulate_dataset(12, np.random.default_rng(seed), n=2048)
        data.append((sc.feature_matrix(windows), y))
    spec = sc.make_spec(combine_stats([sc.local_feature_stats(x) for x, _ in data]))
    test_w, test_y = vib.simulate_dataset(10, np.random.default_rng(9), n=2048)
    test_x = sc.feature_matrix(test_w)
    net = M.build_model(spec, seed=0)
    global_named = M.get_weights(net)
    # Execute: 3 rounds of 10 local epochs
    for r in range(3):
        updates = []
        for i, (x, y) in enumerate(data):
            M.set_weights(net, global_named)
            _, metrics = sc.train(spec, x, y, epochs=10, seed=r * 10 + i, model=net)
            updates.append((M.get_weights(net), metrics["num_samples"]))
        global_named = aggregate.fedavg(updates)
    M.set_weights(net, global_named)
    out = sc.report(sc.classify(spec, net, test_x), test_y)
    # Assert
    assert out["accuracy"] >= 0.9
    assert out["false_alarm_rate"] <= 0.1
