"""The web explorer: machines, their maintenance timelines with audit badges, anchored sensor batches, leases,
federated learning tasks and rounds.

`server` (stdlib HTTP server, `start_explorer`), `sections` (the per-machine page's extension point, and the
lease statements), `fl` (federated learning tasks and rounds as JSON), `pages` (pure, escaped HTML rendering).
Every chain read goes through the features' contract clients.
"""
