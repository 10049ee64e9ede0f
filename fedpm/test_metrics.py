"""Metric names follow Prometheus' conventions, checked where they are declared; each component has its own registry."""

from __future__ import annotations

import pytest

from fedpm.metrics import MetricNameError, Metrics, check_name


@pytest.mark.parametrize("name,kind", [("fedpm_predictions_total", "counter"), ("fedpm_prediction_seconds", "histogram"),
                                       ("fedpm_machine_rul_cycles", "gauge")])
def test_good_names_pass(name, kind):
    check_name(name, kind, ["machine", "machine_class"])


@pytest.mark.parametrize("name,kind,labels", [("predictions_total", "counter", []), ("fedpm_predictions", "counter", []),
                                              ("fedpm_rul_total", "gauge", []), ("fedpm_latency", "histogram", []),
                                              ("fedpm_Bad_total", "counter", []), ("fedpm_x_total", "counter", ["Machine"])])
def test_bad_names_are_refused(name, kind, labels):
    with pytest.raises(MetricNameError):
        check_name(name, kind, labels)


def test_two_components_keep_their_own_series():
    a, b = Metrics(), Metrics()
    a.counter("fedpm_things_total", "things", ["outcome"]).labels("ok").inc(3)
    b.counter("fedpm_things_total", "things", ["outcome"])  # the same name in another registry is no clash

    text_a, ctype = a.exposition()
    assert b'fedpm_things_total{outcome="ok"} 3.0' in text_a and ctype.startswith("text/plain")
    assert b"fedpm_things_total{" not in b.exposition()[0]
