"""Federated learning for fedpm: C-MAPSS data, models, canonical model bytes, aggregation, evaluation."""
