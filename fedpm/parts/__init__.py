"""Quality proof per produced part: a record linking the part to the device-signed sensor data of its production and
the machine's maintenance state, anchored by the operator; a passport anyone can verify against the chain.

Pure logic: `records` (the part record, its canonical bytes, coverage), `passport` (verification over `ChainViews`).
With I/O: `client` (the PartRegistry client, the chain views of a passport), `store` (`PartStore`: the operator's
records), `build` (a record from the gateway and maintenance stores; a passport from a record).
"""
