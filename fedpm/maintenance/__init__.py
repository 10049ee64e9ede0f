"""Transparent maintenance history: records hashed on chain (MaintenanceLog), kept off chain, audited.

`records` (the record and its canonical hash), `audit` (pure comparison with the chain), `store` (the local
SQLite records), `chain` (appending, reading, resubmitting), `demo` (a history for the demo).
"""
