"""Sensor data signed where it is recorded: devices sign every block at the source, a gateway holding no device key
checks, batches and anchors them as one root of roots per interval, and any reading is provable (origin and inclusion).

Pure logic: `encoding` (canonical block bytes, frames), `signing` (EIP-712 block signatures), `merkle` (trees and
proofs), `anchoring` (batch summaries, roots of roots), `ingest` (what a gateway admits). The device side: `device`
(sequence numbers, signing, blocking readings). With I/O: `store` (`GatewayStore`: the SQLite write-ahead store),
`client` (the SensorBatchRegistry client, device bindings), `gateway` (MQTT / block files -> batches -> anchors),
`simulate` (simulated devices over MQTT), `verify` (batches and readings vs signatures and the chain), `api`
(verified readings for training), `lineage` (what data a model was trained on), `demo` (a few seconds of all of it).
"""
