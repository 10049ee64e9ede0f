"""Predictive maintenance in service: remaining useful life per machine from verified data, alerts with a maintenance
instruction, and the histories that feed back into training. A feature over the sensors (`fedpm.sensors.feed`: the
verified readings), models (`fedpm.models`: the version that predicts) and maintenance (records answering alerts)
features.

Pure: `windows` (model inputs from verified readings, or why there is none), `alerts` (machine classes, their rules,
canonical alerts with an id a maintenance record can answer). With I/O: `predictor` (a model version loaded for
inference), `journal` (the service's local record of models served, predictions and alerts), `timeline` (per machine:
predictions, alerts and the maintenance that answered them), `labels` (run-to-failure histories as training data).
"""
