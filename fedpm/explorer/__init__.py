"""The web explorer: machines, their maintenance timelines with audit badges, anchored sensor batches.

`server` (stdlib HTTP server, `start_explorer`), `sections` (the per-machine page's extension point),
`views` (pure, escaped HTML rendering).
"""
