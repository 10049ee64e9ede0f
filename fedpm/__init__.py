"""fedpm: collaborative predictive maintenance on a consortium chain with federated learning."""
