"""The ground floor of fedpm: what every layer may use and which uses nothing of fedpm's own.

`errors` (the exception root `FedpmError` and `ConfigError`), `config` (the typed config-section loader),
`files` (atomic writes), `ids` (readable bytes32 ids, 0x-hex), `canonical` (canonical JSON). Layers import
downwards only: ground <- chain <- fl_node <- features (fedpm/…) <- faces (CLI, explorer, demo) <- scripts, bench.
Nothing here runs at import time.
"""
