"""Bearing health-state task: vibration synthesis, features, the classifier, its trainer and its experiment."""
