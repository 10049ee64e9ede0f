"""Signed sensor batches: readings signed where they are recorded, anchored on chain, provable one by one.

Pure logic: `encoding` (canonical bytes), `merkle` (tree and proofs), `signing` (EIP-712 batch signatures).
With I/O: `store` (`GatewayStore`: the SQLite write-ahead store), `client` (the SensorBatchRegistry client,
reconciling the store with the chain), `gateway` (MQTT/CSV/stdin -> signed anchored batches), `simulate` (MQTT
publishers), `verify` (the store vs the chain), `api` (verified readings for training),
`demo` (a few seconds of all of it for `fedpm demo`).
"""
