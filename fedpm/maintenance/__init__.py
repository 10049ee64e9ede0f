"""Transparent maintenance history: records hashed on chain (MaintenanceLog), kept off chain, audited.

`records` (the record and its canonical hash), `audit` (pure comparison with the chain), `store` (`RecordStore`:
the local SQLite records), `client` (the MaintenanceLog client; submitting, resubmitting, auditing), `demo` (a
history for the demo).
"""
